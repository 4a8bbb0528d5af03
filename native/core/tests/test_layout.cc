// native/core/tests/test_layout.cc — merclip::cpu permute_0213 vs merclip::ref, bit for bit
// (exact copies), the definition spot-checked, and the inverse permute's round trip.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "merclip/layout.h"
#include "merclip/error.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace {

// ---------------------------------------------------------------------------------------------
// permute_0213: exact copies, so cpu must equal ref bit for bit (threads split the work in
// blocks).

void test_permute() {
  uint64_t seed = 900;
  const int64_t shapes4[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 375, 8, 64}, {2, 8, 375, 64}, {1, 1000, 3, 1}};
  for (const auto& s : shapes4) {
    const int64_t n = s[0] * s[1] * s[2] * s[3];
    Rng rng(++seed);
    Buffer src(n), rd(n), cd(n);
    merclip_test::fill_normal(src.data(), n, rng);
    rd.fill_nan(), cd.fill_nan();
    merclip::ref::permute_0213(rd.data(), src.data(), s[0], s[1], s[2], s[3]);
    merclip::cpu::permute_0213(cd.data(), src.data(), s[0], s[1], s[2], s[3]);
    const std::string tag = fmt("permute_0213 [%lld,%lld,%lld,%lld]", (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
    expect_bitwise(tag, cd, rd);
    // spot-check the definition: dst[a, c, b, d] = src[a, b, c, d]
    const int64_t a = s[0] - 1, b = s[1] / 2, c = s[2] - 1, d = s[3] / 2;
    CHECK(cd[((a * s[2] + c) * s[1] + b) * s[3] + d] == src[((a * s[1] + b) * s[2] + c) * s[3] + d]);
    // the inverse permutation restores the source
    Buffer back(n);
    merclip::cpu::permute_0213(back.data(), cd.data(), s[0], s[2], s[1], s[3]);
    expect_bitwise(tag + " round trip", back, src);
  }
}

}  // namespace

int main() {
  test_permute();
  return merclip_test::finish("test_layout");
}
