// cuda/cuda_check.h — turns a cudaError_t into merclip::Error{cuda} with file:line and the
// runtime's message. Never exits.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "merclip/error.h"

#define MERCLIP_CUDA_CHECK(expr)                                                           \
  do {                                                                                     \
    const cudaError_t merclip_err_ = (expr);                                               \
    if (merclip_err_ != cudaSuccess) {                                                     \
      throw ::merclip::Error(::merclip::ErrorCode::cuda,                                   \
                             std::string(#expr) + " failed at " + __FILE__ + ":" +        \
                                 std::to_string(__LINE__) + ": " +                         \
                                 cudaGetErrorString(merclip_err_));                        \
    }                                                                                      \
  } while (0)
