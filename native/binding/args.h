// native/binding/args.h — argument validation for every binding function.
//
// Each binding takes one options object. `Args` reads every field it is asked for ONCE (getters
// run once, before any pointer is taken), checks type, integer-ness, range, and buffer lengths
// against shapes with overflow-checked products, and throws a Napi::TypeError (wrong type) or
// Napi::RangeError (bad value / size) in the single template used by lib/kernels/validate.ts:
//   "<fn>: expected <arg> to be <what>, received <value>"
// Pointers come from the Float32Array views (zero-copy). Nothing in here touches their data.
#pragma once

#include <napi.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace merclip_binding {

constexpr int64_t kMaxDim = 2147483647;  // 2^31 − 1: every size argument is in [1, kMaxDim]

// A validated typed-array argument: pointer, element count, and the object (to pin it).
template <class T>
struct View {
  T* data = nullptr;
  size_t length = 0;
  const char* name = "";
  Napi::Value value;  // the JS object (empty when an optional argument is absent)
  bool present() const { return data != nullptr || !value.IsEmpty(); }
};
using F32 = View<float>;
using I32 = View<int32_t>;

// Describes a JS value for "received …": undefined, null, a number's value, 'string',
// Array, Float64Array, boolean, object, function.
std::string describe(const Napi::Value& v);

// Shape product with overflow detection: false when the product exceeds 2^63.
bool checked_product(std::initializer_list<int64_t> dims, uint64_t* out);

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn);

  const char* fn() const { return fn_; }
  Napi::Env env() const { return env_; }

  // Integer in [lo, hi]. Missing/non-number → TypeError; NaN, fraction, out of range → RangeError.
  int64_t integer(const char* name, int64_t lo, int64_t hi);
  int64_t size(const char* name) { return integer(name, 1, kMaxDim); }
  // Same, but `fallback` when the field is undefined.
  int64_t integer_or(const char* name, int64_t lo, int64_t hi, int64_t fallback);
  bool boolean(const char* name);

  enum class Bound { none, open, closed };
  // Finite number with optional bounds: lo (open/closed/none), hi (open/closed/none).
  double number(const char* name, Bound lo_kind, double lo, Bound hi_kind, double hi);
  double finite(const char* name) { return number(name, Bound::none, 0, Bound::none, 0); }

  // One of the listed strings; returns its index.
  int one_of(const char* name, std::initializer_list<const char*> choices);

  // Float32Array of exactly `length` elements (`what` names the product, e.g. "m·k").
  F32 f32(const char* name, uint64_t length, const char* what);
  // Optional: absent (undefined/null) → empty view.
  F32 f32_optional(const char* name, uint64_t length, const char* what);
  // Float32Array of at least `length` elements.
  F32 f32_at_least(const char* name, uint64_t length, const char* what);
  // Float32Array of any non-zero length.
  F32 f32_any(const char* name);
  I32 i32(const char* name, uint64_t length, const char* what);
  // Optional: absent (undefined/null) → empty view (data == nullptr).
  I32 i32_optional(const char* name, uint64_t length, const char* what);

  // Throws RangeError "<fn>: expected <a.name> not to overlap <b.name>" when their bytes
  // overlap; identical views are accepted when allow_identical.
  template <class A, class B>
  void no_overlap(const View<A>& a, const View<B>& b, bool allow_identical = false) const {
    no_overlap_bytes(a.name, a.data, a.length * sizeof(A), b.name, b.data, b.length * sizeof(B),
                     allow_identical);
  }

  // Outputs must not overlap any input nor each other: every output against every input (in
  // order), then every pair of outputs. Absent (null) views are skipped.
  void disjoint(std::initializer_list<const F32*> outputs,
                std::initializer_list<const F32*> inputs) const {
    for (const F32* o : outputs)
      for (const F32* i : inputs) no_overlap(*o, *i);
    for (auto a = outputs.begin(); a != outputs.end(); ++a)
      for (auto b = a + 1; b != outputs.end(); ++b) no_overlap(**a, **b);
  }

  [[noreturn]] void type_error(const std::string& what, const Napi::Value& v) const;
  [[noreturn]] void range_error(const std::string& what, const std::string& received) const;
  [[noreturn]] void range_error_value(const std::string& what, const Napi::Value& v) const;

  // Values that must stay alive while an async job runs.
  std::vector<Napi::Value>& pins() { return pins_; }

 private:
  Napi::Value get(const char* name);
  template <class T>
  View<T> typed(const char* name, napi_typedarray_type type, const char* type_name,
                bool optional, uint64_t length, const char* what, bool at_least);
  void no_overlap_bytes(const char* an, const void* a, size_t abytes, const char* bn,
                        const void* b, size_t bbytes, bool allow_identical) const;

  Napi::Env env_;
  const char* fn_;
  Napi::Object obj_;
  std::vector<Napi::Value> pins_;
};

// Runs `body`, turning merclip::Error / std::exception from the core into JS errors
// (invalid_argument → RangeError, the rest → Error with the code in the message).
void rethrow_core_error(Napi::Env env, const char* fn);

}  // namespace merclip_binding
