// One Adam update in one pass (Esper's EsperAdamUpdate kernel, src/tensor/ops/adam-update.ts):
// instead of 14 elementwise kernels, each reading and writing the whole tensor.
// Every operation is a float32 operation rounded once, in the same order as the
// op-by-op update (the build disables FMA contraction), so the result is
// bit-identical to it. The constants arrive already rounded to float32 by the
// caller, so no pow() of this library has to agree with JavaScript's.
#include <cmath>
#include <cstdint>

#include "napi-args.h"

// Function clones need ifunc (glibc on x86-64); elsewhere the baseline build is used.
#if defined(__x86_64__) && defined(__linux__)
#define ESPER_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ESPER_SIMD_CLONES
#endif

namespace esper {
namespace {

// A function of its own, with restrict-qualified pointers, so the loop vectorises; cloned for
// AVX-512 and AVX2 (picked at load time by the CPU, baseline SSE2 otherwise), since its
// divisions and square root make it compute-bound. No FMA contraction in any clone.
ESPER_SIMD_CLONES void AdamLoop(const float* __restrict p, const float* __restrict m, const float* __restrict v, const float* __restrict g,
                                float* __restrict po, float* __restrict mo, float* __restrict vo, size_t n, float b1, float c1, float b2,
                                float c2, float d1, float d2, float eps, float lr) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + (gi * gi) * c2;
    mo[i] = mi;
    vo[i] = vi;
    const float denominator = std::sqrt(vi / d2) + eps;
    po[i] = p[i] - ((mi / d1) / denominator) * lr;
  }
}

// adam(param, m, v, grad, paramOut, mOut, vOut, constants: Float32Array[b1, c1, b2, c2, d1, d2, eps, lr])
// c1 = 1 − β1, c2 = 1 − β2, d1 = 1 − β1^t, d2 = 1 − β2^t.
napi_value Adam(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!Args(env, info, 8, argv)) return nullptr;
  float* arrays[8];
  size_t lengths[8];
  for (int i = 0; i < 8; i++) {
    if (!Float32Arg(env, argv[i], &arrays[i], &lengths[i])) return nullptr;
  }
  const size_t n = lengths[0];
  for (int i = 1; i < 7; i++) {
    if (lengths[i] != n) return Throw(env, "adam: param, moments, gradient and outputs must have the same length");
  }
  if (lengths[7] != 8) return Throw(env, "adam: constants must hold 8 floats");
  const float* k = arrays[7];
  AdamLoop(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5], arrays[6], n, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]);
  return nullptr;
}

}  // namespace

void RegisterOptim(napi_env env, napi_value exports) { Export(env, exports, "adam", Adam); }

}  // namespace esper
