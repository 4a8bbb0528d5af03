// native/binding/bindings.h — one registration function per binding file (addon.cc calls them).
// Binding file <family>.cc exports the names of merclip/<family>.h, camelCased
// (layernorm_forward → layernormForward).
#pragma once

#include <napi.h>

namespace merclip_binding {

constexpr int kBindingApiVersion = 13;  // bump when the binding's functions or arguments change

void register_gemm(Napi::Env env, Napi::Object exports);
void register_layernorm(Napi::Env env, Napi::Object exports);
void register_gelu(Napi::Env env, Napi::Object exports);
void register_softmax(Napi::Env env, Napi::Object exports);
void register_adamw(Napi::Env env, Napi::Object exports);
void register_layout(Napi::Env env, Napi::Object exports);
void register_reduce(Napi::Env env, Napi::Object exports);
void register_machine(Napi::Env env, Napi::Object exports);
void register_cosine(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);
void register_memory_attention(Napi::Env env, Napi::Object exports);
void register_logmel(Napi::Env env, Napi::Object exports);

}  // namespace merclip_binding
