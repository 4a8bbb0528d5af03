// native/core/tests/test_reduce.cc — merclip::cpu sum_squares / add_scaled vs merclip::ref.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/reduce.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace {

// add_scaled: cpu vs ref (double) within 1e-6 relative; in place gives the out-of-place bits.
void test_add_scaled() {
  uint64_t seed = 905;
  const int64_t shapes2[][2] = {{1, 1}, {7, 1}, {12, 4}, {3 * 375 * 512, 512}, {200003, 200003}, {65536 * 3 + 5, 1}};
  for (const auto& s : shapes2) {
    const int64_t n = s[0], ny = s[1];
    Rng rng(++seed);
    Buffer x(n), y(ny), rd(n), cd(n);
    merclip_test::fill_normal(x.data(), n, rng);
    merclip_test::fill_normal(y.data(), ny, rng);
    const float alpha = static_cast<float>(rng.uniform(-2.0, 2.0));
    merclip::ref::add_scaled(rd.data(), x.data(), y.data(), alpha, n, ny);
    merclip::cpu::add_scaled(cd.data(), x.data(), y.data(), alpha, n, ny);
    const std::string tag = fmt("add_scaled n=%lld ny=%lld", (long long)n, (long long)ny);
    compare(tag, cd, rd, 1e-6, 1e-7);
    merclip::cpu::add_scaled(x.data(), x.data(), y.data(), alpha, n, ny);  // in place
    expect_bitwise(tag + " in place", x, cd);
  }
}

// sum_squares: cpu (chunked, 8 double lanes, threaded) vs ref (one double sum) within 1e-12
// relative; 1 thread and all threads give the same bits; n = 0 gives 0.
void test_sum_squares() {
  auto& pool = merclip::ThreadPool::global();
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{65536}, int64_t{65537}, int64_t{1000003}}) {
    Rng rng(970 + static_cast<uint64_t>(n));
    Buffer x(n);
    merclip_test::fill_normal(x.data(), n, rng, 0.5, 3.0);
    const double want = merclip::ref::sum_squares(x.data(), n);
    pool.set_active_threads(1);
    const double one = merclip::cpu::sum_squares(x.data(), n);
    pool.set_active_threads(0);
    const double all = merclip::cpu::sum_squares(x.data(), n);
    CHECK(std::fabs(one - want) <= 1e-12 * want);
    CHECK(std::memcmp(&one, &all, sizeof one) == 0);
    if (n == 0) CHECK(all == 0.0);
  }
}

}  // namespace

int main() {
  at_every_level([](const char*) {
    test_add_scaled();
    test_sum_squares();
  });
  return merclip_test::finish("test_reduce");
}
