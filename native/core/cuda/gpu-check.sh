#!/usr/bin/env bash
# native/core/cuda/gpu-check.sh — the whole native check on a GPU machine; no Node needed.
#   1. shows the GPU (nvidia-smi) and nvcc;
#   2. configures the core with -DMERCLIP_CUDA=ON (CMAKE_CUDA_ARCHITECTURES from the device's
#      compute capability unless CUDAARCHS / $1 says otherwise), builds it;
#   3. runs the whole ctest suite (test_cuda_kernels compares every CUDA kernel with the CPU);
#   4. runs the attention benchmark and prints its figures (TFLOP/s, forward and backward).
# Usage: native/core/cuda/gpu-check.sh [cuda-archs, e.g. "90"]   (build dir: build-gpu)
# Exit status: non-zero when the build or any test fails.
set -euo pipefail
cd "$(dirname "$0")/../../.."

echo "== GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv || nvidia-smi
else
  echo "nvidia-smi not found (the tests will report whether the runtime sees a device)"
fi
command -v nvcc >/dev/null 2>&1 || { echo "nvcc not found: install the CUDA toolkit or put it on PATH"; exit 1; }
nvcc --version | tail -n 1

archs="${1:-${CUDAARCHS:-}}"
if [ -z "$archs" ] && command -v nvidia-smi >/dev/null 2>&1; then
  archs="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d ' .')"
fi
arch_flag=()
[ -n "$archs" ] && arch_flag=("-DCMAKE_CUDA_ARCHITECTURES=$archs")
echo "== configure (CUDA archs: ${archs:-CMakeLists default})"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DMERCLIP_CUDA=ON "${arch_flag[@]}"
echo "== build"
cmake --build build-gpu -j "$(nproc)"

echo "== ctest"
status=0
ctest --test-dir build-gpu --output-on-failure || status=$?
echo "== test_cuda_kernels (full output)"
./build-gpu/test_cuda_kernels || status=$?

echo "== attention benchmark"
./build-gpu/bench_cuda_attention "${BENCH_ITERS:-20}" || status=$?

if [ "$status" -eq 0 ]; then echo "== gpu-check passed"; else echo "== gpu-check FAILED ($status)"; fi
exit "$status"
