// native/binding/bindings.h — one registration function per binding file (addon.cc calls them).
#pragma once

#include <napi.h>

namespace merclip_binding {

constexpr int kBindingApiVersion = 8;  // bump when the binding's functions or arguments change

void register_gemm(Napi::Env env, Napi::Object exports);
void register_ops(Napi::Env env, Napi::Object exports);
void register_machine(Napi::Env env, Napi::Object exports);
void register_cosine(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);

}  // namespace merclip_binding
