// native/core/tests/test_layout.cc — merclip::cpu permute_0213 / unpack_heads / pack_heads vs
// merclip::ref, bit for bit (exact copies), the definitions spot-checked, the round trips, and
// unpack = permute of the zero-padded rows (an independent route to the same layout).
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

// unpack_heads / pack_heads: exact copies, so cpu must equal ref bit for bit; the padded form's
// padding rows are 0 (outputs NaN-prefilled); pack(unpack(x)) = x; unpack = permute_0213 of the
// zero-padded rows (an independent route to the same layout).
void test_packed_heads() {
  uint64_t seed = 950;
  struct Case { std::vector<int32_t> lens; int64_t len, heads, hd; };
  const Case cases[] = {{{1}, 1, 1, 1}, {{3, 0, 5}, 5, 2, 3}, {{375, 120, 0, 300}, 375, 8, 64}, {{7, 7}, 9, 4, 16}};
  for (const Case& c : cases) {
    const int64_t B = static_cast<int64_t>(c.lens.size());
    int64_t T = 0;
    for (int32_t l : c.lens) T += l;
    const int64_t np = T * c.heads * c.hd, nd = B * c.heads * c.len * c.hd;
    Rng rng(++seed);
    Buffer packed(np), rd(nd), cd(nd), dense(B * c.len * c.heads * c.hd), perm(nd);
    merclip_test::fill_normal(packed.data(), np, rng);
    rd.fill_nan(), cd.fill_nan();
    merclip::ref::unpack_heads(rd.data(), packed.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    merclip::cpu::unpack_heads(cd.data(), packed.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    const std::string tag = fmt("unpack_heads B=%lld len=%lld H=%lld Dh=%lld", (long long)B, (long long)c.len,
                                (long long)c.heads, (long long)c.hd);
    expect_bitwise(tag, cd, rd);
    cd.guards_ok(tag);
    // independent route: zero-padded [B, len, H·Dh] rows, then the heads permute
    dense.fill(0.0f);
    int64_t off = 0, row = c.heads * c.hd;
    for (int64_t b = 0; b < B; ++b) {
      std::memcpy(dense.data() + b * c.len * row, packed.data() + off * row, sizeof(float) * static_cast<size_t>(c.lens[b] * row));
      off += c.lens[b];
    }
    merclip::cpu::permute_0213(perm.data(), dense.data(), B, c.len, c.heads, c.hd);
    expect_bitwise(tag + " = permute of padded rows", cd, perm);
    Buffer back(np), back_ref(np);
    back.fill_nan();
    merclip::cpu::pack_heads(back.data(), cd.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    merclip::ref::pack_heads(back_ref.data(), cd.data(), c.lens.data(), B, c.len, c.heads, c.hd);
    expect_bitwise(tag + " pack round trip", back, packed);
    expect_bitwise(tag + " pack cpu = ref", back, back_ref);
    back.guards_ok(tag + " pack");
  }
  bool thrown = false;
  const std::vector<int32_t> bad = {2, 6};
  Buffer p(8 * 2), d(2 * 5 * 2);
  try {
    merclip::cpu::unpack_heads(d.data(), p.data(), bad.data(), 2, 5, 1, 2);
  } catch (const merclip::Error&) {
    thrown = true;
  }
  CHECK(thrown);
}

// sum_squares: cpu (chunked, 8 double lanes, threaded) vs ref (one double sum) within 1e-12

}  // namespace

int main() {
  test_permute();
  test_packed_heads();
  return merclip_test::finish("test_layout");
}
