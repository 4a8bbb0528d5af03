# binding.gyp — the default build: `npm install` compiles the CPU addon with node-gyp.
#
# Native build (default): -O3 -march=native for the generic code, tuned to the installing
# machine. Portable build: MERCLIP_PORTABLE=1 npm install (or npm rebuild) — baseline x86-64 for
# the generic code; the AVX-512 and AVX2 kernels are still compiled (their own static
# libraries, per-file -m flags and never -march=native, so both builds run the same code at
# those levels) and chosen at run time by CPUID.
{
  "variables": {
    "merclip_portable%": "<!(node -p \"['1','true','yes'].includes(String(process.env.MERCLIP_PORTABLE||'').toLowerCase()) ? 1 : 0\")",
    "merclip_x86%": "<!(node -p \"['x64','ia32'].includes(process.arch) ? 1 : 0\")",
    "merclip_arm64%": "<!(node -p \"process.arch === 'arm64' ? 1 : 0\")"
  },
  "target_defaults": {
    "cflags!": ["-fno-exceptions", "-O2", "-O3"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2"],
    "cflags": ["-O3", "-fPIC", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-O3"],
    "include_dirs": ["native/core/include"],
    "defines": ["MERCLIP_PORTABLE=<(merclip_portable)"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CFLAGS": ["-O3"]
    },
    "conditions": [
      ["merclip_portable==0 and merclip_x86==1", {
        "cflags": ["-march=native", "-mtune=native"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "merclip_avx512",
      "type": "static_library",
      "cflags!": ["-march=native", "-mtune=native"],
      "conditions": [
        ["merclip_x86==1", {
          "sources": [
            "native/core/cpu/gemm_avx512.cc",
            "native/core/cpu/machine_avx512.cc",
            "native/core/cpu/cosine_avx512.cc",
            "native/core/cpu/attention_avx512.cc",
            "native/core/cpu/layernorm_avx512.cc",
            "native/core/cpu/gelu_avx512.cc",
            "native/core/cpu/softmax_avx512.cc",
            "native/core/cpu/adamw_avx512.cc",
            "native/core/cpu/reduce_avx512.cc"
          ],
          "cflags": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mavx2", "-Wno-uninitialized"]
        }]
      ]
    },
    {
      "target_name": "merclip_avx2",
      "type": "static_library",
      "cflags!": ["-march=native", "-mtune=native"],
      "conditions": [
        ["merclip_x86==1", {
          "sources": [
            "native/core/cpu/gemm_avx2.cc",
            "native/core/cpu/machine_avx2.cc",
            "native/core/cpu/layernorm_avx2.cc",
            "native/core/cpu/gelu_avx2.cc",
            "native/core/cpu/softmax_avx2.cc",
            "native/core/cpu/adamw_avx2.cc",
            "native/core/cpu/reduce_avx2.cc",
            "native/core/cpu/attention_avx2.cc",
            "native/core/cpu/cosine_avx2.cc"
          ],
          "cflags": ["-mavx2", "-mfma"]
        }]
      ]
    },
    {
      "target_name": "merclip",
      "dependencies": ["merclip_avx512", "merclip_avx2"],
      "sources": [
        "native/core/common/error.cc",
        "native/core/common/thread_pool.cc",
        "native/core/common/memory.cc",
        "native/core/common/cpu_features.cc",
        "native/core/common/cuda_stub.cc",
        "native/core/ref/gemm_ref.cc",
        "native/core/ref/layernorm_ref.cc",
        "native/core/ref/gelu_ref.cc",
        "native/core/ref/softmax_ref.cc",
        "native/core/ref/adamw_ref.cc",
        "native/core/ref/layout_ref.cc",
        "native/core/ref/reduce_ref.cc",
        "native/core/ref/cosine_ref.cc",
        "native/core/ref/attention_ref.cc",
        "native/core/ref/memory_attention_ref.cc",
        "native/core/ref/logmel_ref.cc",
        "native/core/cpu/gemm.cc",
        "native/core/cpu/layernorm.cc",
        "native/core/cpu/gelu.cc",
        "native/core/cpu/softmax.cc",
        "native/core/cpu/adamw.cc",
        "native/core/cpu/layout.cc",
        "native/core/cpu/reduce.cc",
        "native/core/cpu/cosine.cc",
        "native/core/cpu/cosine_topk.cc",
        "native/core/cpu/attention.cc",
        "native/core/cpu/memory_attention.cc",
        "native/core/cpu/logmel.cc",
        "native/core/cpu/machine.cc",
        "native/binding/addon.cc",
        "native/binding/args.cc",
        "native/binding/gemm.cc",
        "native/binding/layernorm.cc",
        "native/binding/gelu.cc",
        "native/binding/softmax.cc",
        "native/binding/adamw.cc",
        "native/binding/layout.cc",
        "native/binding/reduce.cc",
        "native/binding/machine.cc",
        "native/binding/cosine.cc",
        "native/binding/attention.cc",
        "native/binding/memory_attention.cc",
        "native/binding/logmel.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "conditions": [
        ["merclip_x86==1", {
          "defines": ["MERCLIP_HAVE_AVX512", "MERCLIP_HAVE_AVX2"]
        }],
        ["merclip_arm64==1", {
          "sources": ["native/core/cpu/gemm_neon.cc", "native/core/cpu/cosine_neon.cc", "native/core/cpu/attention_neon.cc"],
          "defines": ["MERCLIP_HAVE_NEON"]
        }]
      ]
    }
  ]
}
