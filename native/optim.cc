// One Adam update in one pass (Esper's EsperAdamUpdate kernel, src/tensor/ops/adam-update.ts):
// instead of 14 elementwise kernels, each reading and writing the whole tensor.
// Every operation is a float32 operation rounded once, in the same order as the
// op-by-op update (the build disables FMA contraction), so the result is
// bit-identical to it. The constants arrive already rounded to float32 by the
// caller, so no pow() of this library has to agree with JavaScript's.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

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

// An update kernel's arguments: all of them, the leading Float32Arrays with their lengths, and n, the one
// length of param, m, v, grad and the three outputs (the first 7).
struct UpdateArgs {
  napi_value argv[10];
  float* arrays[10];
  size_t lengths[10];
  size_t n = 0;
};

// Fetches exactly `total` arguments and reads the first `floats` as Float32Arrays; the first 7 must have one
// length. Throws (returning false) otherwise; `who` names the kernel in the message.
bool ReadUpdate(napi_env env, napi_callback_info info, size_t total, int floats, UpdateArgs* a, const char* who) {
  if (!Args(env, info, total, a->argv)) return false;
  for (int i = 0; i < floats; i++) {
    if (!Float32Arg(env, a->argv[i], &a->arrays[i], &a->lengths[i])) return false;
  }
  a->n = a->lengths[0];
  for (int i = 1; i < 7; i++) {
    if (a->lengths[i] != a->n) {
      const std::string message = std::string(who) + ": param, moments, gradient and outputs must have the same length";
      Throw(env, message.c_str());
      return false;
    }
  }
  return true;
}

// adam(param, m, v, grad, paramOut, mOut, vOut, constants: Float32Array[b1, c1, b2, c2, d1, d2, eps, lr])
// c1 = 1 − β1, c2 = 1 − β2, d1 = 1 − β1^t, d2 = 1 − β2^t.
napi_value Adam(napi_env env, napi_callback_info info) {
  UpdateArgs a;
  if (!ReadUpdate(env, info, 8, 8, &a, "adam")) return nullptr;
  if (a.lengths[7] != 8) return Throw(env, "adam: constants must hold 8 floats");
  float* const* x = a.arrays;
  const float* k = x[7];
  AdamLoop(x[0], x[1], x[2], x[3], x[4], x[5], x[6], a.n, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]);
  return nullptr;
}

// Columns on their own clocks (a width seed's units resident in a host layer: src/tensor/ops/adam-update.ts,
// adamUpdateColumns): a run of `n` consecutive columns, each with its own d1, d2 and learning rate. The same
// float32 operations in the same order as AdamLoop, so a column's result is bit-identical to AdamLoop's with
// that column's constants. Frozen columns arrive with d1 = d2 = 1 and lr = 0 (finite, no parameter change)
// and get their moments restored afterwards.
ESPER_SIMD_CLONES void AdamColumnsLoop(const float* __restrict p, const float* __restrict m, const float* __restrict v, const float* __restrict g,
                                       float* __restrict po, float* __restrict mo, float* __restrict vo, size_t n, float b1, float c1, float b2,
                                       float c2, float eps, const float* __restrict d1, const float* __restrict d2, const float* __restrict lr) {
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + (gi * gi) * c2;
    mo[i] = mi;
    vo[i] = vi;
    const float denominator = std::sqrt(vi / d2[i]) + eps;
    po[i] = p[i] - ((mi / d1[i]) / denominator) * lr[i];
  }
}

// adamColumns(param, m, v, grad, paramOut, mOut, vOut, shared: [b1, c1, b2, c2, eps],
//             columns: [d1 × cols, d2 × cols, lr × cols, active × cols], dims: Int32Array [outer, cols, inner])
// The tensors are [outer, cols, inner] row-major; column c's constants apply to every element of column c;
// a column whose `active` is 0 keeps its parameter and moments (a frozen seed takes no step).
napi_value AdamColumns(napi_env env, napi_callback_info info) {
  UpdateArgs a;
  if (!ReadUpdate(env, info, 10, 9, &a, "adamColumns")) return nullptr;
  float* const* arrays = a.arrays;
  const size_t* lengths = a.lengths;
  const size_t n = a.n;
  int32_t* dims;
  size_t dimCount;
  if (!Int32Arg(env, a.argv[9], &dims, &dimCount)) return nullptr;
  if (dimCount != 3 || dims[0] < 0 || dims[1] < 0 || dims[2] < 0) return Throw(env, "adamColumns: dims must be [outer, cols, inner], each >= 0");
  const size_t outer = static_cast<size_t>(dims[0]), cols = static_cast<size_t>(dims[1]), inner = static_cast<size_t>(dims[2]);
  if (outer * cols * inner != n) return Throw(env, "adamColumns: dims do not match the parameter's length");
  if (lengths[7] != 5) return Throw(env, "adamColumns: shared constants must hold 5 floats");
  if (lengths[8] != 4 * cols) return Throw(env, "adamColumns: column constants must hold 4 floats per column");
  const float* k = arrays[7];
  const float* d1 = arrays[8];
  const float* d2 = d1 + cols;
  const float* lr = d2 + cols;
  const float* active = lr + cols;
  float* const p = arrays[0];
  float* const m = arrays[1];
  float* const v = arrays[2];
  float* const g = arrays[3];
  float* const po = arrays[4];
  float* const mo = arrays[5];
  float* const vo = arrays[6];
  if (inner == 1) {
    // Columns contiguous within a row. The constants are tiled over a block of rows (at least 256 elements), so
    // that each call of the vectorised loop runs long, not once per (possibly narrow) row.
    const size_t rowsPerBlock = cols == 0 ? 1 : (255 + cols) / cols;
    const size_t block = rowsPerBlock * cols;
    std::vector<float> tiled(3 * block);
    for (size_t r = 0; r < rowsPerBlock; r++) {
      for (size_t c = 0; c < cols; c++) {
        tiled[r * cols + c] = d1[c];
        tiled[block + r * cols + c] = d2[c];
        tiled[2 * block + r * cols + c] = lr[c];
      }
    }
    for (size_t o = 0; o < outer; o += rowsPerBlock) {
      const size_t at = o * cols;
      const size_t length = (o + rowsPerBlock <= outer ? rowsPerBlock : outer - o) * cols;
      AdamColumnsLoop(p + at, m + at, v + at, g + at, po + at, mo + at, vo + at, length, k[0], k[1], k[2], k[3], k[4], tiled.data(), tiled.data() + block,
                      tiled.data() + 2 * block);
    }
  } else {
    // Each column a contiguous run of `inner`: the plain loop with that column's constants.
    for (size_t o = 0; o < outer; o++) {
      for (size_t c = 0; c < cols; c++) {
        const size_t at = (o * cols + c) * inner;
        AdamLoop(p + at, m + at, v + at, g + at, po + at, mo + at, vo + at, inner, k[0], k[1], k[2], k[3], d1[c], d2[c], k[4], lr[c]);
      }
    }
  }
  // Frozen columns: parameter and moments exactly as they were.
  for (size_t c = 0; c < cols; c++) {
    if (active[c] != 0.0f) continue;
    for (size_t o = 0; o < outer; o++) {
      const size_t at = (o * cols + c) * inner;
      for (size_t i = at; i < at + inner; i++) {
        po[i] = p[i];
        mo[i] = m[i];
        vo[i] = v[i];
      }
    }
  }
  return nullptr;
}

}  // namespace

void RegisterOptim(napi_env env, napi_value exports) {
  Export(env, exports, "adam", Adam);
  Export(env, exports, "adamColumns", AdamColumns);
}

}  // namespace esper
