// common/memory.cc — see merclip/memory.h.
#include "merclip/memory.h"

#include <cstdint>
#include <string>

#include "merclip/error.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace merclip {

size_t release_pages(void* data, size_t bytes) {
  MERCLIP_CHECK(data != nullptr || bytes == 0, "release_pages: null data with a non-zero size");
#if defined(__linux__)
  const long ps = sysconf(_SC_PAGESIZE);
  if (ps <= 0 || bytes == 0) return 0;
  const uintptr_t page = static_cast<uintptr_t>(ps);
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(page - 1);
  if (end <= begin) return 0;
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) != 0) return 0;
  return end - begin;
#else
  (void)data;
  (void)bytes;
  return 0;
#endif
}

bool trim_heap() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

bool set_mmap_threshold(size_t bytes) {
  MERCLIP_CHECK(bytes >= 4096 && bytes <= (size_t{32} << 20),
                "set_mmap_threshold: bytes must be in [4096, 33554432], got " + std::to_string(bytes));
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes)) != 0;
#else
  return false;
#endif
}

}  // namespace merclip
