// common/aligned_buffer.h — a grow-only, 64-byte aligned scratch buffer.
//
// Hot loops keep one per thread (thread_local) and reuse it: a fresh large allocation costs
// page faults on every call, reused memory does not. Never shrinks; freed with the thread.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>

#include "merclip/error.h"

namespace merclip {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // Returns at least `count` floats, 64-byte aligned. Contents are unspecified.
  float* floats(size_t count) { return get<float>(count); }
  double* doubles(size_t count) { return get<double>(count); }

  template <class T>
  T* get(size_t count) {
    const size_t bytes = count * sizeof(T);
    if (bytes > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      const size_t rounded = (bytes + 4095) / 4096 * 4096;
      void* p = nullptr;
      if (posix_memalign(&p, 64, rounded) != 0 || p == nullptr)
        throw Error(ErrorCode::out_of_memory,
                    "out of memory allocating " + std::to_string(rounded) + " bytes of scratch");
      data_ = p;
      capacity_ = rounded;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace merclip
