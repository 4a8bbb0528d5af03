// native/binding/addon.cc — registration only (sharp style): each binding file registers its
// functions. See lib/backend/native.ts for the JS-side types.
#include <napi.h>

#include "bindings.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  merclip_binding::register_machine(env, exports);
  merclip_binding::register_gemm(env, exports);
  merclip_binding::register_layernorm(env, exports);
  merclip_binding::register_gelu(env, exports);
  merclip_binding::register_softmax(env, exports);
  merclip_binding::register_adamw(env, exports);
  merclip_binding::register_layout(env, exports);
  merclip_binding::register_reduce(env, exports);
  merclip_binding::register_cosine(env, exports);
  merclip_binding::register_attention(env, exports);
  merclip_binding::register_memory_attention(env, exports);
  merclip_binding::register_logmel(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(merclip, Init)
