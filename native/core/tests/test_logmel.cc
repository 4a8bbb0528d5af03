// native/core/tests/test_logmel.cc — merclip::cpu log-mel vs merclip::ref (naive double DFT) on
// several lengths (n < 400, n = 400, hop boundaries, non-multiples, seconds of audio) and signals
// (white noise, tones + noise, a pure tone, silence, huge and tiny amplitudes); the framing rule
// against its definition; the filterbank's shape; thread-count independence (bitwise); argument
// errors. Outputs pre-filled with NaN and guarded by sentinel words (tests/test_util.h).
//
// Tolerance on the log values: |cpu − ref| <= 1e-4 + 3e-8·E_t / mel_ref, where E_t = Σ_j (w_j x_j)²
// is frame t's windowed energy (Parseval: the mean of |X[k]|² over the 512 bins) and mel_ref =
// exp(ref). The float32 FFT's error in a bin is absolute, ~1e-7·sqrt(E_t·|X[k]|²), so a band far
// below the frame's energy (a pure tone's leakage, 10⁻¹⁰ of E_t) can only be matched relative to
// E_t; where the band holds a fair share of the energy the bound is ~1e-4 (float32 rounding of
// the window, twiddles and sums, ~1e-6 relative, well inside).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "merclip/error.h"
#include "merclip/logmel.h"
#include "merclip/thread_pool.h"
#include "ops_test_util.h"
#include "test_util.h"

namespace {

using merclip::kLogmelBins;

enum class Signal { noise, tones, pure_tone, silence, loud, tiny };
const char* signal_name(Signal s) {
  switch (s) {
    case Signal::noise: return "noise";
    case Signal::tones: return "tones+noise";
    case Signal::pure_tone: return "pure tone";
    case Signal::silence: return "silence";
    case Signal::loud: return "loud";
    case Signal::tiny: return "tiny";
  }
  return "?";
}

std::vector<float> make_signal(Signal s, int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n));
  const double two_pi = 6.283185307179586;
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    double v = 0.0;
    switch (s) {
      case Signal::noise: v = rng.uniform(-1.0, 1.0); break;
      case Signal::tones:
        v = 0.5 * std::sin(two_pi * 440.0 * t) + 0.25 * std::sin(two_pi * 3150.0 * t + 0.3) +
            0.01 * rng.normal();
        break;
      case Signal::pure_tone: v = 0.8 * std::sin(two_pi * 1234.5 * t); break;
      case Signal::silence: v = 0.0; break;
      case Signal::loud: v = 3000.0 * rng.uniform(-1.0, 1.0); break;
      case Signal::tiny: v = 1e-6 * rng.uniform(-1.0, 1.0); break;
    }
    x[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return x;
}

// T by its definition: the fewest frames (hop 160, length 400) whose span covers n samples.
int64_t frames_by_definition(int64_t n) {
  if (n == 0) return 0;
  int64_t T = 1;
  while ((T - 1) * 160 + 400 < n) ++T;
  return T;
}

void test_frames() {
  for (int64_t n : {0, 1, 2, 159, 160, 399, 400, 401, 559, 560, 561, 720, 721, 16000, 16001,
                    123457}) {
    const int64_t got = merclip::logmel_frames(n);
    if (got != frames_by_definition(n)) std::printf("FAIL frames n=%lld: got %lld\n", (long long)n, (long long)got);
    CHECK(got == frames_by_definition(n));
  }
  CHECK(merclip::logmel_frames(400) == 1 && merclip::logmel_frames(401) == 2 &&
        merclip::logmel_frames(560) == 2 && merclip::logmel_frames(561) == 3);
}

// The filterbank: 80 non-negative triangles, each non-zero on a contiguous run of bins with one
// peak, ordered by centre, nothing at DC from filter 1 on, and the Slaney scaling: the peak of
// triangle m is ≈ 2 / (f[m+2] − f[m]) with f the mel edges (checked here against the scale
// computed independently from its textbook form, 1 kHz break, 27 log steps per ln 6.4).
void test_filterbank() {
  std::vector<double> fb(static_cast<size_t>(kLogmelBins) * merclip::kLogmelFreqs);
  merclip::logmel_filterbank(fb.data());
  auto mel = [](double f) { return f < 1000 ? 3 * f / 200 : 15 + 27 * std::log(f / 1000) / std::log(6.4); };
  auto hz = [](double m) { return m < 15 ? 200 * m / 3 : 1000 * std::pow(6.4, (m - 15) / 27); };
  int prev_peak = -1;
  for (int m = 0; m < kLogmelBins; ++m) {
    const double* row = fb.data() + static_cast<size_t>(m) * merclip::kLogmelFreqs;
    int first = -1, last = -1, peak = 0;
    for (int k = 0; k < merclip::kLogmelFreqs; ++k) {
      CHECK(row[k] >= 0.0);
      if (row[k] > 0) {
        if (first < 0) first = k;
        last = k;
      }
      if (row[k] > row[peak]) peak = k;
    }
    CHECK(first >= 0);
    for (int k = first; k <= last; ++k) CHECK(row[k] > 0.0);  // contiguous
    CHECK(peak >= prev_peak);
    prev_peak = peak;
    const double f0 = hz(mel(8000.0) * m / 81), f1 = hz(mel(8000.0) * (m + 1) / 81),
                 f2 = hz(mel(8000.0) * (m + 2) / 81);
    // the sampled triangle's value at bin k, from the edges of the independent scale
    for (int k = first; k <= last; ++k) {
      const double f = k * 16000.0 / 512;
      const double want = std::max(0.0, std::min((f - f0) / (f1 - f0), (f2 - f) / (f2 - f1))) * 2 / (f2 - f0);
      CHECK(std::fabs(row[k] - want) <= 1e-12 * (1 + std::fabs(want)) + 1e-15);
    }
  }
}

void expect_logmel_close(const std::string& tag, const Buffer& got, const Buffer& want,
                         const std::vector<float>& x, int64_t n) {
  const int64_t T = merclip::logmel_frames(n);
  int64_t bad = 0;
  double worst = 0, worst_abs = 0;
  int64_t worst_i = -1;
  for (int64_t t = 0; t < T; ++t) {
    double e = 0.0;
    for (int j = 0; j < 400; ++j) {
      const int64_t i = t * 160 + j;
      const double w = 0.5 - 0.5 * std::cos(6.283185307179586 * j / 400);
      if (i < n) e += (w * x[static_cast<size_t>(i)]) * (w * x[static_cast<size_t>(i)]);
    }
    for (int m = 0; m < kLogmelBins; ++m) {
      const int64_t i = t * kLogmelBins + m;
      const double r = want[i], g = got[i];
      const double tol = 1e-4 + 3e-8 * e / std::max(std::exp(r), 1e-10);
      const double d = std::fabs(g - r);
      if (!(d <= tol)) ++bad;
      if (!(d / tol <= worst)) worst = d / tol, worst_i = i;
      worst_abs = std::max(worst_abs, d);
    }
  }
  ++merclip_test::checks();
  if (bad) {
    ++merclip_test::failures();
    std::printf("FAIL %s: %lld/%lld out of tolerance; worst [%lld] got %.9g want %.9g\n", tag.c_str(),
                (long long)bad, (long long)(T * kLogmelBins), (long long)worst_i, got[worst_i], want[worst_i]);
  }
  std::printf("%-44s T=%-5lld max|diff| %.2e  worst diff/tol %.3f\n", tag.c_str(), (long long)T, worst_abs, worst);
  got.guards_ok(tag);
}

void test_against_ref() {
  uint64_t seed = 900;
  const int64_t lengths[] = {1, 100, 399, 400, 401, 559, 560, 561, 1000, 16000, 16000 * 2 + 77};
  for (Signal s : {Signal::noise, Signal::tones, Signal::pure_tone, Signal::silence, Signal::loud,
                   Signal::tiny}) {
    for (int64_t n : lengths) {
      if ((s == Signal::silence || s == Signal::tiny || s == Signal::loud) && n > 16000) continue;
      const std::vector<float> x = make_signal(s, n, ++seed);
      const int64_t T = merclip::logmel_frames(n);
      Buffer r = merclip_test::nan_buffer(T * kLogmelBins), c = merclip_test::nan_buffer(T * kLogmelBins);
      merclip::ref::logmel_forward(r.data(), x.data(), n);
      merclip::cpu::logmel_forward(c.data(), x.data(), n);
      expect_logmel_close(fmt("logmel %s n=%lld", signal_name(s), (long long)n), c, r, x, n);
      for (int64_t i = 0; i < T * kLogmelBins; ++i) CHECK(std::isfinite(c[i]));
    }
  }
  // Silence is exactly the floor on both sides.
  const std::vector<float> z(1000, 0.0f);
  Buffer c = merclip_test::nan_buffer(merclip::logmel_frames(1000) * kLogmelBins);
  merclip::cpu::logmel_forward(c.data(), z.data(), 1000);
  for (int64_t i = 0; i < c.size(); ++i) CHECK(std::fabs(c[i] - std::log(1e-10)) < 1e-6);
  // n = 0: nothing written (a zero-length output); guard words intact.
  Buffer e(0);
  merclip::cpu::logmel_forward(e.data(), z.data(), 0);
  merclip::ref::logmel_forward(e.data(), z.data(), 0);
  e.guards_ok("logmel n=0");
}

// The last frame's zero padding: a signal whose tail past n is garbage must give the same frames
// as one whose tail is zeros (the kernel must not read past n).
void test_no_read_past_end() {
  const int64_t n = 16000 + 37;
  std::vector<float> a = make_signal(Signal::noise, n + 400, 77), b = a;
  for (int64_t i = n; i < n + 400; ++i) a[static_cast<size_t>(i)] = 1e30f, b[static_cast<size_t>(i)] = 0.0f;
  const int64_t T = merclip::logmel_frames(n);
  Buffer ca(T * kLogmelBins), cb(T * kLogmelBins);
  merclip::cpu::logmel_forward(ca.data(), a.data(), n);
  merclip::cpu::logmel_forward(cb.data(), b.data(), n);
  expect_bitwise("logmel ignores samples past n", ca, cb);
}

void test_thread_independence() {
  const int64_t n = 16000 * 5 + 123;
  const std::vector<float> x = make_signal(Signal::tones, n, 4242);
  const int64_t T = merclip::logmel_frames(n);
  auto run = [&](Buffer& o) {
    o = merclip_test::nan_buffer(T * kLogmelBins);
    merclip::cpu::logmel_forward(o.data(), x.data(), n);
  };
  Buffer one, all;
  run_one_thread_and_all(run, one, all);
  expect_bitwise("threads: logmel", all, one);
}

template <class F>
void expect_error(const char* what, F fn) {
  bool threw = false;
  try {
    fn();
  } catch (const merclip::Error& e) {
    threw = e.code() == merclip::ErrorCode::invalid_argument;
    std::printf("%s -> %s\n", what, e.what());
  }
  if (!threw) std::printf("FAIL %s: no invalid_argument error\n", what);
  CHECK(threw);
}

void test_errors() {
  float buf[80];
  expect_error("logmel_frames(-1)", [] { merclip::logmel_frames(-1); });
  expect_error("cpu n=-5", [&] { merclip::cpu::logmel_forward(buf, buf, -5); });
  expect_error("ref n=-5", [&] { merclip::ref::logmel_forward(buf, buf, -5); });
  expect_error("cpu null x", [&] { merclip::cpu::logmel_forward(buf, nullptr, 10); });
  expect_error("cpu null out", [&] { merclip::cpu::logmel_forward(nullptr, buf, 10); });
  expect_error("rfft bench threads=0", [] { merclip::cpu::measure_rfft512_gflops(0, 0.01); });
  expect_error("rfft bench seconds=0", [] { merclip::cpu::measure_rfft512_gflops(1, 0.0); });
}

}  // namespace

int main() {
  test_frames();
  test_filterbank();
  test_errors();
  test_against_ref();
  test_no_read_past_end();
  test_thread_independence();
  return merclip_test::finish("test_logmel");
}
