// Reductions and transposes on float32, on a [outer, reduced, inner] view the
// caller collapses the tensor into (a contiguous block of reduced axes), and a
// batched 2-D transpose. Sums accumulate in double, as tfjs's JS kernels do
// (their accumulator is a JS number), so results agree to float rounding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "napi-args.h"

namespace esper {
namespace {

// reduce(op, x, out, dims: Int32Array[outer, reduced, inner]); op: 0 sum, 1 max, 2 min, 3 mean.
// out[a, b] = op over r of x[a, r, b].
napi_value Reduce(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  int64_t op;
  float *x, *out;
  size_t lx, lo, ld;
  int32_t* dims;
  if (!IntArg(env, argv[0], &op) || !Float32Arg(env, argv[1], &x, &lx) || !Float32Arg(env, argv[2], &out, &lo) ||
      !Int32Arg(env, argv[3], &dims, &ld)) {
    return nullptr;
  }
  if (ld != 3) return Throw(env, "reduce: dims must hold 3 integers");
  const int64_t A = dims[0], R = dims[1], B = dims[2];
  if (A < 0 || R < 1 || B < 0 || op < 0 || op > 3) return Throw(env, "reduce: bad dims or op");
  if (static_cast<int64_t>(lx) != A * R * B || static_cast<int64_t>(lo) != A * B) return Throw(env, "reduce: lengths do not match dims");
  if (op == 0 || op == 3) {
    std::vector<double> acc(static_cast<size_t>(B));
    const double scale = op == 3 ? 1.0 / static_cast<double>(R) : 1.0;
    for (int64_t a = 0; a < A; a++) {
      const float* xa = x + a * R * B;
      if (B == 1) {
        double s = 0;
        for (int64_t r = 0; r < R; r++) s += xa[r];
        out[a] = static_cast<float>(s * scale);
        continue;
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t r = 0; r < R; r++) {
        const float* row = xa + r * B;
        for (int64_t b = 0; b < B; b++) acc[b] += row[b];
      }
      for (int64_t b = 0; b < B; b++) out[a * B + b] = static_cast<float>(acc[b] * scale);
    }
    return nullptr;
  }
  const bool is_max = op == 1;
  for (int64_t a = 0; a < A; a++) {
    const float* xa = x + a * R * B;
    float* oa = out + a * B;
    for (int64_t b = 0; b < B; b++) oa[b] = xa[b];
    for (int64_t r = 1; r < R; r++) {
      const float* row = xa + r * B;
      for (int64_t b = 0; b < B; b++) {
        const float v = row[b];
        // Like tfjs's JS kernel: a NaN anywhere makes the result NaN.
        if (v != v || oa[b] != oa[b]) oa[b] = NAN;
        else if (is_max ? v > oa[b] : v < oa[b]) oa[b] = v;
      }
    }
  }
  return nullptr;
}

// transpose(x, out, dims: Int32Array[batch, rows, cols]): out[b, c, r] = x[b, r, c], in
// 32×32 tiles so both sides stay in cache.
napi_value Transpose(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  float *x, *out;
  size_t lx, lo, ld;
  int32_t* dims;
  if (!Float32Arg(env, argv[0], &x, &lx) || !Float32Arg(env, argv[1], &out, &lo) || !Int32Arg(env, argv[2], &dims, &ld)) return nullptr;
  if (ld != 3) return Throw(env, "transpose: dims must hold 3 integers");
  const int64_t batch = dims[0], rows = dims[1], cols = dims[2];
  if (batch < 0 || rows < 0 || cols < 0) return Throw(env, "transpose: negative dims");
  if (static_cast<int64_t>(lx) != batch * rows * cols || lo != lx) return Throw(env, "transpose: lengths do not match dims");
  constexpr int64_t kTile = 32;
  for (int64_t b = 0; b < batch; b++) {
    const float* xb = x + b * rows * cols;
    float* ob = out + b * rows * cols;
    for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
      const int64_t r1 = std::min(rows, r0 + kTile);
      for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const int64_t c1 = std::min(cols, c0 + kTile);
        for (int64_t r = r0; r < r1; r++) {
          for (int64_t c = c0; c < c1; c++) ob[c * rows + r] = xb[r * cols + c];
        }
      }
    }
  }
  return nullptr;
}

}  // namespace

void RegisterReduce(napi_env env, napi_value exports) {
  Export(env, exports, "reduce", Reduce);
  Export(env, exports, "transpose", Transpose);
}

}  // namespace esper
