// Elementwise kernels on float32: binary ops over a two-level broadcast and
// unary ops. The caller collapses any broadcast it supports into an output of
// [rows, cols] where each operand is full (i·cols + j), a row vector (j), a
// column vector (i) or a scalar; everything else stays on the JS kernels.
// Loops are templated on the operand kinds so the inner loop is contiguous and
// the compiler vectorises it. Single-threaded: these ops are memory-bound and
// at the sizes of a training step (≤ 10^6 elements) a second thread measured
// no gain worth the handoff.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "napi-args.h"

namespace esper {
namespace {

enum Kind { kFull = 0, kRow = 1, kCol = 2, kScalar = 3 };

// The results match tfjs's JS kernels: one float op rounded once is the same in
// float as in double-then-rounded, and NaN propagates the way Math.max does.
struct Add { static float F(float a, float b) { return a + b; } };
struct Sub { static float F(float a, float b) { return a - b; } };
struct Mul { static float F(float a, float b) { return a * b; } };
struct Div { static float F(float a, float b) { return a / b; } };
struct Max { static float F(float a, float b) { return (a != a || b != b) ? NAN : (a > b ? a : b); } };
struct Min { static float F(float a, float b) { return (a != a || b != b) ? NAN : (a < b ? a : b); } };
struct SqDiff { static float F(float a, float b) { float d = a - b; return d * d; } };

// One output row: each operand is a vector (pa[j]) or a value held for the row (sa). Not
// inlined: inlined into the big dispatch function, GCC 12 leaves the loop scalar (checked
// with -fopt-info-vec); on its own it is vectorised.
template <class Op, bool VA, bool VB>
__attribute__((noinline)) void Row(const float* __restrict pa, const float* __restrict pb, float sa, float sb, float* __restrict o, int64_t n) {
  for (int64_t j = 0; j < n; j++) o[j] = Op::F(VA ? pa[j] : sa, VB ? pb[j] : sb);
}

template <class Op, int KA, int KB>
void Loop(const float* a, const float* b, float* out, int64_t rows, int64_t cols) {
  constexpr bool va = KA == kFull || KA == kRow, vb = KB == kFull || KB == kRow;
  for (int64_t i = 0; i < rows; i++) {
    const float* pa = KA == kFull ? a + i * cols : a;
    const float* pb = KB == kFull ? b + i * cols : b;
    const float sa = KA == kCol ? a[i] : a[0];
    const float sb = KB == kCol ? b[i] : b[0];
    Row<Op, va, vb>(pa, pb, sa, sb, out + i * cols, cols);
  }
}

template <class Op>
void Dispatch(int ka, int kb, const float* a, const float* b, float* out, int64_t rows, int64_t cols) {
#define ESPER_CASE(A, B) \
  case A * 4 + B:        \
    return Loop<Op, A, B>(a, b, out, rows, cols);
  switch (ka * 4 + kb) {
    ESPER_CASE(0, 0) ESPER_CASE(0, 1) ESPER_CASE(0, 2) ESPER_CASE(0, 3)
    ESPER_CASE(1, 0) ESPER_CASE(1, 1) ESPER_CASE(1, 2) ESPER_CASE(1, 3)
    ESPER_CASE(2, 0) ESPER_CASE(2, 1) ESPER_CASE(2, 2) ESPER_CASE(2, 3)
    ESPER_CASE(3, 0) ESPER_CASE(3, 1) ESPER_CASE(3, 2) ESPER_CASE(3, 3)
  }
#undef ESPER_CASE
}

void Run(int op, int ka, int kb, const float* a, const float* b, float* out, int64_t rows, int64_t cols) {
  switch (op) {
    case 0: return Dispatch<Add>(ka, kb, a, b, out, rows, cols);
    case 1: return Dispatch<Sub>(ka, kb, a, b, out, rows, cols);
    case 2: return Dispatch<Mul>(ka, kb, a, b, out, rows, cols);
    case 3: return Dispatch<Div>(ka, kb, a, b, out, rows, cols);
    case 4: return Dispatch<Max>(ka, kb, a, b, out, rows, cols);
    case 5: return Dispatch<Min>(ka, kb, a, b, out, rows, cols);
    case 6: return Dispatch<SqDiff>(ka, kb, a, b, out, rows, cols);
  }
}

int64_t KindLength(int kind, int64_t rows, int64_t cols) {
  switch (kind) {
    case kFull: return rows * cols;
    case kRow: return cols;
    case kCol: return rows;
    default: return 1;
  }
}

// binary(op, a, b, out, layout: Int32Array[rows, cols, kindA, kindB]); op: 0 add, 1 sub, 2 mul,
// 3 div, 4 maximum, 5 minimum, 6 squared difference.
napi_value Binary(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!Args(env, info, 5, argv)) return nullptr;
  int64_t op;
  float *a, *b, *out;
  size_t la, lb, lo, ll;
  int32_t* layout;
  if (!IntArg(env, argv[0], &op) || !Float32Arg(env, argv[1], &a, &la) || !Float32Arg(env, argv[2], &b, &lb) ||
      !Float32Arg(env, argv[3], &out, &lo) || !Int32Arg(env, argv[4], &layout, &ll)) {
    return nullptr;
  }
  if (ll != 4) return Throw(env, "binary: layout must hold 4 integers");
  const int64_t rows = layout[0], cols = layout[1];
  const int ka = layout[2], kb = layout[3];
  if (rows < 0 || cols < 0 || ka < 0 || ka > 3 || kb < 0 || kb > 3) return Throw(env, "binary: bad layout");
  if (static_cast<int64_t>(lo) != rows * cols || static_cast<int64_t>(la) < KindLength(ka, rows, cols) ||
      static_cast<int64_t>(lb) < KindLength(kb, rows, cols)) {
    return Throw(env, "binary: an array's length does not match the layout");
  }
  if (rows * cols == 0) return nullptr;  // (Loop reads a[0] and b[0])
  if (op < 0 || op > 6) return Throw(env, "binary: unknown op");
  const bool full_and_row = (ka == kFull && kb == kRow) || (ka == kRow && kb == kFull);
  if (full_and_row && cols < 64 && rows > 1) {
    // Short rows (a conv bias: [n·h·w, channels] + [channels]): one call per row would cost more
    // than its few elements, so the row vector is repeated m times and m rows go per call.
    const int64_t m = 256 / cols;
    std::vector<float> repeated(static_cast<size_t>(m * cols));
    const float* row = ka == kRow ? a : b;
    for (int64_t r = 0; r < m; r++) std::copy(row, row + cols, repeated.begin() + r * cols);
    const int64_t groups = rows / m, done = groups * m;
    const float* ga = ka == kRow ? repeated.data() : a;
    const float* gb = kb == kRow ? repeated.data() : b;
    Run(static_cast<int>(op), ka, kb, ga, gb, out, groups, m * cols);
    if (done < rows) {
      const int64_t offset = done * cols;
      Run(static_cast<int>(op), ka, kb, ka == kFull ? a + offset : a, kb == kFull ? b + offset : b, out + offset, rows - done, cols);
    }
    return nullptr;
  }
  Run(static_cast<int>(op), ka, kb, a, b, out, rows, cols);
  return nullptr;
}

template <class F>
void Map(const float* __restrict x, float* __restrict out, int64_t n, F f) {
  for (int64_t i = 0; i < n; i++) out[i] = f(x[i]);
}

// unary(op, x, out, alpha); op: 0 neg, 1 sqrt, 2 rsqrt, 3 square, 4 exp, 5 log, 6 relu,
// 7 step (x > 0 ? 1 : alpha, NaN stays NaN), 8 abs, 9 reciprocal, 10 sigmoid.
napi_value Unary(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  int64_t op;
  float *x, *out;
  size_t lx, lo;
  double alpha_d;
  if (!IntArg(env, argv[0], &op) || !Float32Arg(env, argv[1], &x, &lx) || !Float32Arg(env, argv[2], &out, &lo) ||
      !DoubleArg(env, argv[3], &alpha_d)) {
    return nullptr;
  }
  if (lx != lo) return Throw(env, "unary: input and output lengths differ");
  const int64_t n = static_cast<int64_t>(lx);
  const float alpha = static_cast<float>(alpha_d);
  switch (op) {
    case 0: Map(x, out, n, [](float v) { return -v; }); break;
    case 1: Map(x, out, n, [](float v) { return std::sqrt(v); }); break;
    case 2: Map(x, out, n, [](float v) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(v))); }); break;
    case 3: Map(x, out, n, [](float v) { return v * v; }); break;
    case 4: Map(x, out, n, [](float v) { return static_cast<float>(std::exp(static_cast<double>(v))); }); break;
    case 5: Map(x, out, n, [](float v) { return static_cast<float>(std::log(static_cast<double>(v))); }); break;
    case 6: Map(x, out, n, [](float v) { return v < 0 ? 0.0f : v; }); break;
    case 7: Map(x, out, n, [alpha](float v) { return v != v ? v : (v > 0 ? 1.0f : alpha); }); break;
    case 8: Map(x, out, n, [](float v) { return std::fabs(v); }); break;
    case 9: Map(x, out, n, [](float v) { return 1.0f / v; }); break;
    case 10: Map(x, out, n, [](float v) { return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(v)))); }); break;
    default: return Throw(env, "unary: unknown op");
  }
  return nullptr;
}

}  // namespace

void RegisterElementwise(napi_env env, napi_value exports) {
  Export(env, exports, "binary", Binary);
  Export(env, exports, "unary", Unary);
}

}  // namespace esper
