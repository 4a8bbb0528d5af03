// native/core/ref/logmel_ref.cc — reference log-mel spectrogram (merclip::ref, declared in
// merclip/logmel.h, which states the definition), plus the two definitions both
// implementations share: the framing rule (logmel_frames) and the Slaney mel filterbank
// (logmel_filterbank).
//
// Naive DFT (257 × 400 complex terms per frame, cos/sin from std::cos/std::sin of the exact
// angle), double accumulators, single-threaded, boring on purpose: the oracle tests/test_logmel.cc
// compares merclip::cpu against.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "merclip/error.h"
#include "merclip/logmel.h"

namespace merclip {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Slaney mel scale (librosa.hz_to_mel / mel_to_hz with htk=False).
constexpr double kFsp = 200.0 / 3.0;        // Hz per mel below 1 kHz
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFsp;  // 15
double log_step() { return std::log(6.4) / 27.0; }

double hz_to_mel(double f) {
  return f >= kMinLogHz ? kMinLogMel + std::log(f / kMinLogHz) / log_step() : f / kFsp;
}
double mel_to_hz(double m) {
  return m >= kMinLogMel ? kMinLogHz * std::exp(log_step() * (m - kMinLogMel)) : kFsp * m;
}

}  // namespace

int64_t logmel_frames(int64_t n) {
  MERCLIP_CHECK(n >= 0, "logmel_frames: n must be >= 0");
  if (n == 0) return 0;
  const int64_t rest = std::max<int64_t>(0, n - kLogmelFrame);
  return 1 + (rest + kLogmelHop - 1) / kLogmelHop;
}

// fb [80, 257]: librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000,
// htk=False, norm='slaney'), step for step.
void logmel_filterbank(double* fb) {
  const int M = kLogmelBins, K = kLogmelFreqs;
  std::vector<double> edges(M + 2);  // mel_frequencies(n_mels + 2, fmin, fmax)
  const double lo = hz_to_mel(0.0), hi = hz_to_mel(kLogmelSampleRate / 2.0);
  for (int i = 0; i < M + 2; ++i) edges[i] = mel_to_hz(lo + (hi - lo) * i / (M + 1));
  for (int m = 0; m < M; ++m) {
    const double d0 = edges[m + 1] - edges[m], d1 = edges[m + 2] - edges[m + 1];
    const double enorm = 2.0 / (edges[m + 2] - edges[m]);
    for (int k = 0; k < K; ++k) {
      const double f = static_cast<double>(k) * kLogmelSampleRate / kLogmelFft;  // rfftfreq
      const double lower = -(edges[m] - f) / d0;
      const double upper = (edges[m + 2] - f) / d1;
      fb[m * K + k] = std::max(0.0, std::min(lower, upper)) * enorm;
    }
  }
}

namespace ref {

// out [T, 80] = ln(max(F · |DFT512(w ⊙ frame_t)|², 1e-10)).
void logmel_forward(float* out, const float* x, int64_t n) {
  const int64_t T = logmel_frames(n);
  const int K = kLogmelFreqs, L = kLogmelFrame, N = kLogmelFft;
  std::vector<double> fb(static_cast<size_t>(kLogmelBins) * K);
  logmel_filterbank(fb.data());
  // The filterbank is used in float (as librosa returns it and cpu/logmel.cc stores it).
  for (double& v : fb) v = static_cast<float>(v);
  std::vector<double> frame(L), power(K);
  for (int64_t t = 0; t < T; ++t) {
    for (int j = 0; j < L; ++j) {
      const int64_t i = t * kLogmelHop + j;
      const double w = 0.5 - 0.5 * std::cos(2.0 * kPi * j / L);
      frame[j] = i < n ? w * static_cast<double>(x[i]) : 0.0;
    }
    for (int k = 0; k < K; ++k) {
      double re = 0.0, im = 0.0;
      for (int j = 0; j < L; ++j) {  // samples L … N−1 are the zero padding
        const double a = 2.0 * kPi * static_cast<double>((static_cast<int64_t>(j) * k) % N) / N;
        re += frame[j] * std::cos(a);
        im -= frame[j] * std::sin(a);
      }
      power[k] = re * re + im * im;
    }
    for (int m = 0; m < kLogmelBins; ++m) {
      double s = 0.0;
      for (int k = 0; k < K; ++k) s += fb[m * K + k] * power[k];
      out[t * kLogmelBins + m] = static_cast<float>(std::log(std::max(s, kLogmelFloor)));
    }
  }
}

}  // namespace ref
}  // namespace merclip
