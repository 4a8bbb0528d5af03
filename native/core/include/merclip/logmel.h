// merclip/logmel.h — log-mel spectrogram of 16 kHz mono audio, forward only. fp32 in and out.
// Same declarations in merclip::ref (ref/logmel_ref.cc: naive DFT and filterbank in double) and
// merclip::cpu (cpu/logmel.cc: a real FFT of size 512 written here, threaded over frames).
//
// Definition (lib/audio/logmel.ts, test/helpers/logmelRef.ts and
// test/fixtures/logmel/make_fixture.py compute exactly this):
//   input   x[0 … n) mono float32 samples at 16 kHz (any scale; typically [-1, 1]).
//   frames  no centering, no padding in front. T = 0 if n == 0, else
//           T = 1 + ceil(max(0, n − 400) / 160); frame t holds x[160·t + j], j = 0 … 399, with
//           samples at or past n read as 0 (only the last frame, and the only frame when
//           n < 400, reach past the end).
//   window  periodic Hann, w[j] = 0.5 − 0.5·cos(2πj / 400), j = 0 … 399.
//   FFT     the windowed frame zero-padded to 512 points; X[k] = Σ_j w[j]·x[j]·e^(−2πi·jk/512),
//           k = 0 … 256 (unnormalised); power P[k] = |X[k]|².
//   mel     80 filters = librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000,
//           htk=False, norm='slaney'): Slaney mel scale (linear below 1 kHz, f/(200/3); log
//           above, 15 + ln(f/1000)/(ln 6.4/27)), 82 edges equally spaced in mel from 0 to 8000
//           Hz, triangle i rises from edge i to i+1 and falls to i+2 over the bin frequencies
//           k·16000/512, scaled by 2/(f[i+2] − f[i]) (area normalisation). Computed in double
//           by logmel_filterbank and rounded to float once (librosa returns float32 too; 142 of
//           the 20560 weights come out 1 ulp apart from librosa 0.11's, whose float64 sums run in
//           another order — test/fixtures/logmel/check_librosa.py checks this and the log-mel
//           against librosa.stft itself).
//   output  out[t·80 + m] = ln(max(Σ_k F[m][k]·P[k], 1e-10)), layout [T, 80] row-major.
// Every output element is overwritten; x and out must not overlap.
#pragma once

#include <cstdint>

namespace merclip {

constexpr int kLogmelSampleRate = 16000;
constexpr int kLogmelFrame = 400;  // 25 ms
constexpr int kLogmelHop = 160;    // 10 ms
constexpr int kLogmelFft = 512;
constexpr int kLogmelFreqs = kLogmelFft / 2 + 1;  // 257 rfft bins
constexpr int kLogmelBins = 80;
constexpr double kLogmelFloor = 1e-10;

// T for n samples (the framing rule above); n must be >= 0.
int64_t logmel_frames(int64_t n);

// The mel filterbank F [80, 257] row-major, in double (the formula above).
void logmel_filterbank(double* fb);

#define MERCLIP_LOGMEL_DECLARATIONS                                                                \
  /* out [logmel_frames(n), 80] = log-mel of x [n] (definition above).                          */ \
  void logmel_forward(float* out, const float* x, int64_t n);

namespace ref {
MERCLIP_LOGMEL_DECLARATIONS
}  // namespace ref

namespace cpu {
MERCLIP_LOGMEL_DECLARATIONS

// Bench hook (bench/audio.bench.ts): GFLOP/s of the size-512 real FFT on `threads` pool threads
// (each transforming its own frame in cache, repeatedly, for about `seconds`), counting
// 5·N·log2(N)/2 = 11520 flops per transform (the usual real-FFT convention).
double measure_rfft512_gflops(int threads, double seconds);
}  // namespace cpu

#undef MERCLIP_LOGMEL_DECLARATIONS

}  // namespace merclip
