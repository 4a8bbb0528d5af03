// native/core/common/error.cc — names for merclip::ErrorCode (see merclip/error.h).
//
// These are the stable, lower-case names the binding and the tests may print or attach to a JS
// error; keep them in step with the enum.
#include "merclip/error.h"

namespace merclip {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::out_of_memory: return "out_of_memory";
    case ErrorCode::cuda: return "cuda";
    case ErrorCode::internal: return "internal";
  }
  return "unknown";
}

}  // namespace merclip
