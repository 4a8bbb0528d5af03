// native/binding/args.cc — see args.h.
#include "args.h"

#include <cmath>
#include <cstdio>
#include <exception>

#include "merclip/error.h"

namespace merclip_binding {

namespace {

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e21) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

}  // namespace

std::string describe(const Napi::Value& v) {
  if (v.IsEmpty() || v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) return format_number(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "…";
    return "'" + s + "'";
  }
  if (v.IsBigInt()) return "a bigint";
  if (v.IsSymbol()) return "a symbol";
  if (v.IsFunction()) return "a function";
  if (v.IsTypedArray()) return typed_array_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsArray()) return "Array";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsBuffer()) return "Buffer";
  return "object";
}

bool checked_product(std::initializer_list<int64_t> dims, uint64_t* out) {
  uint64_t p = 1;
  for (int64_t d : dims) {
    if (d < 0) return false;
    if (__builtin_mul_overflow(p, static_cast<uint64_t>(d), &p)) return false;
  }
  if (p > (uint64_t{1} << 62)) return false;
  *out = p;
  return true;
}

Args::Args(const Napi::CallbackInfo& info, const char* fn) : env_(info.Env()), fn_(fn) {
  Napi::Value first = info.Length() > 0 ? info[0] : env_.Undefined();
  if (!first.IsObject() || first.IsArray() || first.IsTypedArray() || first.IsFunction())
    throw Napi::TypeError::New(env_, std::string(fn_) + ": expected an options object, received " +
                                         describe(first));
  obj_ = first.As<Napi::Object>();
}

void Args::type_error(const std::string& what, const Napi::Value& v) const {
  throw Napi::TypeError::New(env_, std::string(fn_) + ": expected " + what + ", received " +
                                       describe(v));
}

void Args::range_error(const std::string& what, const std::string& received) const {
  throw Napi::RangeError::New(env_,
                              std::string(fn_) + ": expected " + what + ", received " + received);
}

void Args::range_error_value(const std::string& what, const Napi::Value& v) const {
  range_error(what, describe(v));
}

Napi::Value Args::get(const char* name) { return obj_.Get(name); }

int64_t Args::integer(const char* name, int64_t lo, int64_t hi) {
  const Napi::Value v = get(name);
  const std::string what = std::string(name) + " to be an integer in [" +
                           format_number(static_cast<double>(lo)) + ", " +
                           format_number(static_cast<double>(hi)) + "]";
  if (!v.IsNumber()) type_error(what, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) ||
      d > static_cast<double>(hi))
    range_error_value(what, v);
  return static_cast<int64_t>(d);
}

int64_t Args::integer_or(const char* name, int64_t lo, int64_t hi, int64_t fallback) {
  const Napi::Value v = get(name);
  if (v.IsUndefined()) return fallback;
  return integer(name, lo, hi);
}

bool Args::boolean(const char* name) {
  const Napi::Value v = get(name);
  if (!v.IsBoolean()) type_error(std::string(name) + " to be a boolean", v);
  return v.As<Napi::Boolean>().Value();
}

double Args::number(const char* name, Bound lo_kind, double lo, Bound hi_kind, double hi) {
  const Napi::Value v = get(name);
  std::string what = std::string(name) + " to be a finite number";
  if (lo_kind != Bound::none && hi_kind != Bound::none) {
    what += std::string(" in ") + (lo_kind == Bound::closed ? "[" : "(") + format_number(lo) +
            ", " + format_number(hi) + (hi_kind == Bound::closed ? "]" : ")");
  } else if (lo_kind != Bound::none) {
    what += std::string(lo_kind == Bound::closed ? " >= " : " > ") + format_number(lo);
  } else if (hi_kind != Bound::none) {
    what += std::string(hi_kind == Bound::closed ? " <= " : " < ") + format_number(hi);
  }
  if (!v.IsNumber()) type_error(what, v);
  const double d = v.As<Napi::Number>().DoubleValue();
  bool ok = std::isfinite(d);
  if (ok && lo_kind == Bound::closed) ok = d >= lo;
  if (ok && lo_kind == Bound::open) ok = d > lo;
  if (ok && hi_kind == Bound::closed) ok = d <= hi;
  if (ok && hi_kind == Bound::open) ok = d < hi;
  if (!ok) range_error_value(what, v);
  return d;
}

int Args::one_of(const char* name, std::initializer_list<const char*> choices) {
  const Napi::Value v = get(name);
  std::string what = std::string(name) + " to be one of ";
  bool firstc = true;
  for (const char* c : choices) {
    what += (firstc ? "'" : ", '") + std::string(c) + "'";
    firstc = false;
  }
  if (!v.IsString()) type_error(what, v);
  const std::string s = v.As<Napi::String>().Utf8Value();
  int i = 0;
  for (const char* c : choices) {
    if (s == c) return i;
    ++i;
  }
  range_error_value(what, v);
}

template <class T>
View<T> Args::typed(const char* name, napi_typedarray_type type, const char* type_name,
                    bool optional, uint64_t length, const char* what, bool at_least) {
  View<T> view;
  view.name = name;
  const Napi::Value v = get(name);
  if (optional && (v.IsUndefined() || v.IsNull())) return view;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    type_error(std::string(name) + " to be a" + (type_name[0] == 'I' ? "n " : " ") + type_name, v);
  Napi::TypedArray arr = v.As<Napi::TypedArray>();
  const size_t len = arr.ElementLength();
  const bool ok = at_least ? len >= length : len == length;
  if (!ok) {
    std::string w = std::string(name) + " to be a" + (type_name[0] == 'I' ? "n " : " ") +
                    type_name + " of length " + (at_least ? "at least " : "") +
                    std::to_string(length) + " (" + what + ")";
    range_error(w, "length " + std::to_string(len));
  }
  if (len == 0) range_error(std::string(name) + " to be non-empty", "length 0");
  // napi_get_typedarray_info's data pointer already includes the byte offset, and (unlike
  // TypedArray::ArrayBuffer()) it works for views of a SharedArrayBuffer too — the model's
  // weights live in shared memory so predict() workers read them without a copy. A detached
  // buffer has length 0, which the checks above reject.
  napi_typedarray_type t;
  size_t n = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env_, v, &t, &n, &data, &buffer, &offset) != napi_ok || data == nullptr) {
    type_error(std::string(name) + " to be a readable " + type_name, v);
  }
  view.data = static_cast<T*>(data);
  view.length = len;
  view.value = v;
  pins_.push_back(v);
  return view;
}

F32 Args::f32(const char* name, uint64_t length, const char* what) {
  return typed<float>(name, napi_float32_array, "Float32Array", false, length, what, false);
}
F32 Args::f32_optional(const char* name, uint64_t length, const char* what) {
  return typed<float>(name, napi_float32_array, "Float32Array", true, length, what, false);
}
F32 Args::f32_at_least(const char* name, uint64_t length, const char* what) {
  return typed<float>(name, napi_float32_array, "Float32Array", false, length, what, true);
}
F32 Args::f32_any(const char* name) {
  return typed<float>(name, napi_float32_array, "Float32Array", false, 1, "non-empty", true);
}
I32 Args::i32(const char* name, uint64_t length, const char* what) {
  return typed<int32_t>(name, napi_int32_array, "Int32Array", false, length, what, false);
}
I32 Args::i32_optional(const char* name, uint64_t length, const char* what) {
  return typed<int32_t>(name, napi_int32_array, "Int32Array", true, length, what, false);
}

void Args::no_overlap_bytes(const char* an, const void* a, size_t abytes, const char* bn,
                            const void* b, size_t bbytes, bool allow_identical) const {
  if (a == nullptr || b == nullptr || abytes == 0 || bbytes == 0) return;
  const auto a0 = reinterpret_cast<uintptr_t>(a), b0 = reinterpret_cast<uintptr_t>(b);
  if (allow_identical && a0 == b0 && abytes == bbytes) return;
  if (a0 < b0 + bbytes && b0 < a0 + abytes)
    throw Napi::RangeError::New(env_, std::string(fn_) + ": expected " + an + " not to overlap " +
                                          bn + (allow_identical ? " (only the very same buffer may be reused)" : ""));
}

void rethrow_core_error(Napi::Env env, const char* fn) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (const merclip::Error& e) {
    const std::string msg = std::string(fn) + ": " + e.what();
    if (e.code() == merclip::ErrorCode::invalid_argument) throw Napi::RangeError::New(env, msg);
    throw Napi::Error::New(env, msg + " [" + merclip::error_code_name(e.code()) + "]");
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, std::string(fn) + ": out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string(fn) + ": " + e.what());
  }
}

}  // namespace merclip_binding
