// sgemm: C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b] for b in 0..batch, row-major,
// over OpenBLAS's cblas_sgemm. Batch broadcasting (one operand shared by every
// batch entry) is a zero stride, decided by the caller.
#include <cblas.h>

#include <cstdint>

#include "napi-args.h"

namespace esper {
namespace {

// Largest element index touched by `batch` matrices of `rows × cols` spaced `stride` apart, plus one.
int64_t Extent(int64_t batch, int64_t stride, int64_t rows, int64_t cols) {
  return (batch - 1) * stride + rows * cols;
}

// sgemm(a, b, c, dims: Int32Array[batch, m, n, k, transA, transB, strideA, strideB], alpha, beta)
// a is [m, k] (or [k, m] when transA), b is [k, n] (or [n, k] when transB), c is [batch, m, n].
napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!Args(env, info, 6, argv)) return nullptr;
  float *a, *b, *c;
  size_t la, lb, lc, ld;
  int32_t* dims;
  double alpha, beta;
  if (!Float32Arg(env, argv[0], &a, &la) || !Float32Arg(env, argv[1], &b, &lb) || !Float32Arg(env, argv[2], &c, &lc) ||
      !Int32Arg(env, argv[3], &dims, &ld) || !DoubleArg(env, argv[4], &alpha) || !DoubleArg(env, argv[5], &beta)) {
    return nullptr;
  }
  if (ld != 8) return Throw(env, "sgemm: dims must hold 8 integers");
  const int64_t batch = dims[0], m = dims[1], n = dims[2], k = dims[3];
  const bool trans_a = dims[4] != 0, trans_b = dims[5] != 0;
  const int64_t stride_a = dims[6], stride_b = dims[7];
  if (batch < 1 || m < 0 || n < 0 || k < 0 || stride_a < 0 || stride_b < 0) return Throw(env, "sgemm: negative or empty dims");
  // Bounds are checked here so that a wrong shape in the caller is an exception, never a stray write.
  if (Extent(batch, stride_a, m, k) > static_cast<int64_t>(la) || Extent(batch, stride_b, k, n) > static_cast<int64_t>(lb) ||
      batch * m * n > static_cast<int64_t>(lc)) {
    return Throw(env, "sgemm: an operand is shorter than its dims");
  }
  if (m == 0 || n == 0) return nullptr;
  const int lda = static_cast<int>(trans_a ? m : k);
  const int ldb = static_cast<int>(trans_b ? k : n);
  for (int64_t i = 0; i < batch; i++) {
    float* ci = c + i * m * n;
    if (k == 0) {
      // BLAS leaves C untouched when k is 0 only if beta is 1; make the empty sum explicit.
      for (int64_t j = 0; j < m * n; j++) ci[j] = beta == 0 ? 0.0f : static_cast<float>(beta) * ci[j];
      continue;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), static_cast<float>(alpha), a + i * stride_a, lda, b + i * stride_b, ldb,
                static_cast<float>(beta), ci, static_cast<int>(n));
  }
  return nullptr;
}

}  // namespace

void RegisterGemm(napi_env env, napi_value exports) { Export(env, exports, "sgemm", Sgemm); }

}  // namespace esper
