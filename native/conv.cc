// 2-D convolution, NHWC input, HWIO filter, dilation 1, as im2col + sgemm:
// the patches of a chunk of images become the rows of a [rows, KH·KW·C] matrix
// (`col`), so the forward pass is col · W, the filter gradient colᵀ · dy and
// the input gradient col2im(dy · Wᵀ). Padding is explicit (top, left); the
// caller resolves 'same' / 'valid' into it with tfjs's own conv-info helper.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "napi-args.h"

namespace esper {
namespace {

struct Geometry {
  int64_t n, h, w, c, kh, kw, o, stride_h, stride_w, pad_top, pad_left, out_h, out_w;
  int64_t K() const { return kh * kw * c; }        // patch length
  int64_t P() const { return out_h * out_w; }      // output positions per image
};

// Caps a chunk's patch matrix at 4M floats (16 MiB): large enough that one sgemm
// covers many images (BLAS threads scale with rows), small enough to stay in memory.
constexpr int64_t kColBudget = 4 << 20;

// One scratch buffer per thread, reused across calls: each worker_thread gets its own.
std::vector<float>& Scratch(size_t size) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer;
}

int64_t ChunkImages(const Geometry& g) {
  const int64_t per_image = std::max<int64_t>(1, g.P() * g.K());
  return std::max<int64_t>(1, std::min<int64_t>(g.n, kColBudget / per_image));
}

// Copies the patches of images [n0, n1) into col (zeros where the window hangs over the padding).
void Im2Col(const float* x, const Geometry& g, int64_t n0, int64_t n1, float* col) {
  const int64_t K = g.K();
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t oy = 0; oy < g.out_h; oy++) {
      for (int64_t ox = 0; ox < g.out_w; ox++) {
        float* row = col + (((n - n0) * g.out_h + oy) * g.out_w + ox) * K;
        for (int64_t ky = 0; ky < g.kh; ky++) {
          const int64_t iy = oy * g.stride_h - g.pad_top + ky;
          float* dst = row + ky * g.kw * g.c;
          if (iy < 0 || iy >= g.h) {
            std::memset(dst, 0, sizeof(float) * g.kw * g.c);
            continue;
          }
          const int64_t ix0 = ox * g.stride_w - g.pad_left;
          const int64_t image_row = (n * g.h + iy) * g.w;
          if (ix0 >= 0 && ix0 + g.kw <= g.w) {
            // The window's row lies inside the image: kw·c contiguous floats, one copy.
            std::memcpy(dst, x + (image_row + ix0) * g.c, sizeof(float) * g.kw * g.c);
            continue;
          }
          for (int64_t kx = 0; kx < g.kw; kx++) {
            const int64_t ix = ix0 + kx;
            if (ix < 0 || ix >= g.w) {
              std::memset(dst + kx * g.c, 0, sizeof(float) * g.c);
            } else {
              std::memcpy(dst + kx * g.c, x + (image_row + ix) * g.c, sizeof(float) * g.c);
            }
          }
        }
      }
    }
  }
}

// dst[i] += src[i]; out of line so the loop vectorises.
__attribute__((noinline)) void AddInto(float* __restrict dst, const float* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

// The adjoint of Im2Col: adds every patch row back onto the image positions it was read from.
void Col2ImAdd(const float* col, const Geometry& g, int64_t n0, int64_t n1, float* dx) {
  const int64_t K = g.K();
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t oy = 0; oy < g.out_h; oy++) {
      for (int64_t ox = 0; ox < g.out_w; ox++) {
        const float* row = col + (((n - n0) * g.out_h + oy) * g.out_w + ox) * K;
        for (int64_t ky = 0; ky < g.kh; ky++) {
          const int64_t iy = oy * g.stride_h - g.pad_top + ky;
          if (iy < 0 || iy >= g.h) continue;
          const int64_t ix0 = ox * g.stride_w - g.pad_left;
          const int64_t image_row = (n * g.h + iy) * g.w;
          const float* src = row + ky * g.kw * g.c;
          if (ix0 >= 0 && ix0 + g.kw <= g.w) {
            AddInto(dx + (image_row + ix0) * g.c, src, g.kw * g.c);
            continue;
          }
          for (int64_t kx = 0; kx < g.kw; kx++) {
            const int64_t ix = ix0 + kx;
            if (ix >= 0 && ix < g.w) AddInto(dx + (image_row + ix) * g.c, src + kx * g.c, g.c);
          }
        }
      }
    }
  }
}

// Reads (image, filter-or-dy, output, geometry) and checks every length against the geometry.
bool ReadConv(napi_env env, napi_callback_info info, float** a, float** b, float** out, Geometry* g, int which) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return false;
  size_t la, lb, lo, lg;
  int32_t* geo;
  if (!Float32Arg(env, argv[0], a, &la) || !Float32Arg(env, argv[1], b, &lb) || !Float32Arg(env, argv[2], out, &lo) ||
      !Int32Arg(env, argv[3], &geo, &lg)) {
    return false;
  }
  if (lg != 13) {
    Throw(env, "conv: geometry must hold 13 integers");
    return false;
  }
  *g = Geometry{geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6], geo[7], geo[8], geo[9], geo[10], geo[11], geo[12]};
  const bool positive = g->n > 0 && g->h > 0 && g->w > 0 && g->c > 0 && g->kh > 0 && g->kw > 0 && g->o > 0 && g->stride_h > 0 &&
                        g->stride_w > 0 && g->out_h >= 0 && g->out_w >= 0;
  if (!positive) {
    Throw(env, "conv: geometry must be positive");
    return false;
  }
  const int64_t x_len = g->n * g->h * g->w * g->c, w_len = g->K() * g->o, y_len = g->n * g->P() * g->o;
  // which: 0 forward (x, w → y), 1 backprop input (dy, w → dx), 2 backprop filter (x, dy → dw).
  const int64_t want[3][3] = {{x_len, w_len, y_len}, {y_len, w_len, x_len}, {x_len, y_len, w_len}};
  if (static_cast<int64_t>(la) != want[which][0] || static_cast<int64_t>(lb) != want[which][1] ||
      static_cast<int64_t>(lo) != want[which][2]) {
    Throw(env, "conv: an array's length does not match the geometry");
    return false;
  }
  return true;
}

// conv2d(x, w, y, geometry): y = conv(x, w).
napi_value Conv2d(napi_env env, napi_callback_info info) {
  float *x, *w, *y;
  Geometry g;
  if (!ReadConv(env, info, &x, &w, &y, &g, 0)) return nullptr;
  const int64_t chunk = ChunkImages(g), K = g.K(), P = g.P();
  if (P == 0) return nullptr;
  float* col = Scratch(static_cast<size_t>(chunk * P * K)).data();
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t n1 = std::min(g.n, n0 + chunk), rows = (n1 - n0) * P;
    Im2Col(x, g, n0, n1, col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, g.o, K, 1.0f, col, K, w, g.o, 0.0f, y + n0 * P * g.o, g.o);
  }
  return nullptr;
}

// conv2dBackpropInput(dy, w, dx, geometry): dx = col2im(dy · Wᵀ). dx is overwritten.
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  float *dy, *w, *dx;
  Geometry g;
  if (!ReadConv(env, info, &dy, &w, &dx, &g, 1)) return nullptr;
  std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.c);
  const int64_t chunk = ChunkImages(g), K = g.K(), P = g.P();
  if (P == 0) return nullptr;
  float* col = Scratch(static_cast<size_t>(chunk * P * K)).data();
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t n1 = std::min(g.n, n0 + chunk), rows = (n1 - n0) * P;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, K, g.o, 1.0f, dy + n0 * P * g.o, g.o, w, g.o, 0.0f, col, K);
    Col2ImAdd(col, g, n0, n1, dx);
  }
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, geometry): dw = Σ over chunks colᵀ · dy. dw is overwritten.
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  float *x, *dy, *dw;
  Geometry g;
  if (!ReadConv(env, info, &x, &dy, &dw, &g, 2)) return nullptr;
  const int64_t chunk = ChunkImages(g), K = g.K(), P = g.P();
  std::memset(dw, 0, sizeof(float) * K * g.o);
  if (P == 0) return nullptr;
  float* col = Scratch(static_cast<size_t>(chunk * P * K)).data();
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t n1 = std::min(g.n, n0 + chunk), rows = (n1 - n0) * P;
    Im2Col(x, g, n0, n1, col);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, g.o, rows, 1.0f, col, K, dy + n0 * P * g.o, g.o, 1.0f, dw, g.o);
  }
  return nullptr;
}

}  // namespace

void RegisterConv(napi_env env, napi_value exports) {
  Export(env, exports, "conv2d", Conv2d);
  Export(env, exports, "conv2dBackpropInput", Conv2dBackpropInput);
  Export(env, exports, "conv2dBackpropFilter", Conv2dBackpropFilter);
}

}  // namespace esper
