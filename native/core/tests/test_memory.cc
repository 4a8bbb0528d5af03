// native/core/tests/test_memory.cc — merclip/memory.h against the resident set the kernel reports
// (/proc/self/statm): release_pages takes a touched range out of it and leaves the range valid
// (reads as zeros, writable); trim_heap gives back the free blocks a fragmented C heap keeps
// resident (blocks freed between live ones, so glibc's own top trim cannot reach them);
// set_mmap_threshold rejects sizes outside [4096, 32 MiB].
//
// The resident-set checks need a platform that reports madvise in statm (Linux natively). The
// release_pages check runs first and tells whether this one does (qemu-user may report the
// emulator's own pages): if it does not, the trim check says so and checks only that the heap
// stays usable, instead of asserting a drop nobody can observe.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "merclip/error.h"
#include "merclip/memory.h"
#include "test_util.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace {

// Resident bytes of this process (Linux: /proc/self/statm, field 2), or -1 where unknown.
int64_t resident_bytes() {
#if defined(__linux__)
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (got != 2) return -1;
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
#else
  return -1;
#endif
}

// Returns whether the resident set observably shrank by the released range.
bool test_release_pages() {
  const size_t bytes = size_t{32} << 20;
#if defined(__linux__)
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  if (p == MAP_FAILED) return false;
  auto* f = static_cast<float*>(p);
  const size_t n = bytes / sizeof(float);
  for (size_t i = 0; i < n; ++i) f[i] = 7.0f;
  const int64_t before = resident_bytes();
  // a range that starts and ends mid-page: only the whole pages inside go
  const size_t released = merclip::release_pages(f + 3, bytes - 5 * sizeof(float));
  const int64_t after = resident_bytes();
  const long ps = sysconf(_SC_PAGESIZE);
  CHECK(released == bytes - static_cast<size_t>(ps) * 2 || released == bytes - static_cast<size_t>(ps));
  CHECK(f[0] == 7.0f && f[3] == 7.0f);         // the partial first page keeps its values
  CHECK(f[n - 1] == 7.0f);                      // … and the partial last page
  CHECK(f[static_cast<size_t>(ps)] == 0.0f);    // a released page reads as zeros
  f[static_cast<size_t>(ps) + 1] = 5.0f;        // and is writable again
  CHECK(f[static_cast<size_t>(ps) + 1] == 5.0f);
  const bool observable = before > 0 && after > 0 && before - after >= static_cast<int64_t>(released) * 9 / 10;
  std::printf("release_pages: %zu bytes released; resident %lld → %lld MiB%s\n", released,
              static_cast<long long>(before >> 20), static_cast<long long>(after >> 20),
              observable ? "" : " (this platform's statm does not show it)");
  munmap(p, bytes);
  return observable;
#else
  std::vector<float> v(bytes / sizeof(float), 1.0f);
  CHECK(merclip::release_pages(v.data(), bytes) == 0);  // no such call here: nothing given back
  return false;
#endif
}

// Many 96 KB blocks (below glibc's 128 KB mmap threshold: they come from the heap), each followed
// by a small live block, all touched; then every large block freed. The small ones keep the free
// blocks from merging into the heap's top, so only trim_heap can give their pages back.
void test_trim_heap(bool rss_observable) {
  const int blocks = 512;
  const size_t big = 96 * 1024;
  std::vector<char*> large(blocks), pins(blocks);
  for (int i = 0; i < blocks; ++i) {
    large[i] = static_cast<char*>(std::malloc(big));
    pins[i] = static_cast<char*>(std::malloc(64));
    CHECK(large[i] != nullptr && pins[i] != nullptr);
    std::memset(large[i], 1 + i % 200, big);
    std::memset(pins[i], 2, 64);
  }
  const int64_t touched = resident_bytes();
  for (int i = 0; i < blocks; ++i) std::free(large[i]);
  const int64_t freed = resident_bytes();
  const bool released = merclip::trim_heap();
  const int64_t trimmed = resident_bytes();
  std::printf("trim_heap: %d × %zu KB freed between live blocks; resident %lld → %lld (freed) → %lld MiB (trimmed); released: %s\n",
              blocks, big >> 10, static_cast<long long>(touched >> 20), static_cast<long long>(freed >> 20),
              static_cast<long long>(trimmed >> 20), released ? "yes" : "no");
#if defined(__GLIBC__)
  CHECK(released);
  if (rss_observable) {
    // at least 80 % of the freed 48 MiB leaves the resident set
    CHECK(freed - trimmed >= static_cast<int64_t>(blocks) * static_cast<int64_t>(big) * 8 / 10);
  }
#else
  CHECK(!released);
#endif
  // the heap is intact: the live blocks kept their bytes, new blocks work
  bool pins_ok = true;
  for (int i = 0; i < blocks; ++i)
    for (int b = 0; b < 64; ++b) pins_ok = pins_ok && pins[i][b] == 2;
  CHECK(pins_ok);
  for (int i = 0; i < blocks; ++i) {
    large[i] = static_cast<char*>(std::malloc(big));
    CHECK(large[i] != nullptr);
    std::memset(large[i], 3, big);
  }
  CHECK(large[blocks - 1][big - 1] == 3);
  for (int i = 0; i < blocks; ++i) std::free(large[i]), std::free(pins[i]);
}

void test_mmap_threshold_args() {
  const auto throws = [](size_t bytes) {
    try {
      merclip::set_mmap_threshold(bytes);
    } catch (const merclip::Error& e) {
      return std::strstr(e.what(), "set_mmap_threshold: bytes must be in [4096, 33554432]") != nullptr;
    }
    return false;
  };
  CHECK(throws(0));
  CHECK(throws(4095));
  CHECK(throws((size_t{32} << 20) + 1));
#if defined(__GLIBC__)
  CHECK(merclip::set_mmap_threshold(size_t{32} << 20));  // glibc's largest
  // from here on, a block above the threshold is its own mapping: freeing it gives it back at once
  CHECK(merclip::set_mmap_threshold(128 * 1024));
#else
  CHECK(!merclip::set_mmap_threshold(128 * 1024));
#endif
}

}  // namespace

int main() {
  const bool observable = test_release_pages();
  test_trim_heap(observable);
  test_mmap_threshold_args();
  return merclip_test::finish("test_memory");
}
