// merclip/error.h — the one error type the native core throws.
//
// Contract: core code never calls exit()/abort(). A broken invariant or a failed
// resource request throws merclip::Error{code, message}; the binding turns it into a
// JS exception (invalid_argument → RangeError, everything else → Error).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace merclip {

enum class ErrorCode : int {
  invalid_argument = 1,
  out_of_memory = 2,
  cuda = 3,
  internal = 4,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

const char* error_code_name(ErrorCode code) noexcept;

}  // namespace merclip

// Guards an invariant the callers (the binding, the tests) are expected to have
// validated already. Throws; never aborts.
#define MERCLIP_CHECK(cond, msg)                                                       \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      throw ::merclip::Error(::merclip::ErrorCode::invalid_argument,                   \
                             std::string(msg) + " (check failed: " #cond ")");         \
    }                                                                                  \
  } while (0)
