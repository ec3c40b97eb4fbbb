// 2-D max pooling, NHWC, and its gradient. The inner loops run over channels,
// which are contiguous in NHWC, so they vectorise. Semantics follow tfjs's JS
// kernels exactly: a window covers only in-range positions, the maximum starts
// at −∞ and takes a value only when strictly greater (so NaN is skipped and
// the first maximum in row-major window order wins a tie), and the gradient
// goes to that first maximum (none when the window held nothing above −∞).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "napi-args.h"

namespace esper {
namespace {

struct PoolGeometry {
  int64_t n, h, w, c, fh, fw, stride_h, stride_w, pad_top, pad_left, out_h, out_w;
};

// Reads (a, b, out, geometry[12]); a is x (forward) or dy (gradient).
bool ReadPool(napi_env env, napi_callback_info info, size_t argc, float** arrays, size_t* lengths, PoolGeometry* g) {
  napi_value argv[4];
  if (!Args(env, info, argc, argv)) return false;
  for (size_t i = 0; i + 1 < argc; i++) {
    if (!Float32Arg(env, argv[i], &arrays[i], &lengths[i])) return false;
  }
  int32_t* geo;
  size_t lg;
  if (!Int32Arg(env, argv[argc - 1], &geo, &lg)) return false;
  if (lg != 12) {
    Throw(env, "pool: geometry must hold 12 integers");
    return false;
  }
  *g = PoolGeometry{geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], geo[6], geo[7], geo[8], geo[9], geo[10], geo[11]};
  if (g->n < 0 || g->h < 1 || g->w < 1 || g->c < 1 || g->fh < 1 || g->fw < 1 || g->stride_h < 1 || g->stride_w < 1 || g->out_h < 0 || g->out_w < 0) {
    Throw(env, "pool: geometry must be positive");
    return false;
  }
  return true;
}

// The in-range rows [*y0, *y1) and columns [*x0, *x1) of the window of output (oy, ox).
inline void Window(const PoolGeometry& g, int64_t oy, int64_t ox, int64_t* y0, int64_t* y1, int64_t* x0, int64_t* x1) {
  const int64_t ty = oy * g.stride_h - g.pad_top, tx = ox * g.stride_w - g.pad_left;
  *y0 = ty < 0 ? 0 : ty;
  *y1 = ty + g.fh < g.h ? ty + g.fh : g.h;
  *x0 = tx < 0 ? 0 : tx;
  *x1 = tx + g.fw < g.w ? tx + g.fw : g.w;
}

// maxPool(x, y, geometry[n, h, w, c, fh, fw, strideH, strideW, padTop, padLeft, outH, outW])
napi_value MaxPool(napi_env env, napi_callback_info info) {
  float* a[3];
  size_t l[3];
  PoolGeometry g;
  if (!ReadPool(env, info, 3, a, l, &g)) return nullptr;
  const float* x = a[0];
  float* y = a[1];
  if (static_cast<int64_t>(l[0]) != g.n * g.h * g.w * g.c || static_cast<int64_t>(l[1]) != g.n * g.out_h * g.out_w * g.c) {
    return Throw(env, "maxPool: lengths do not match the geometry");
  }
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t n = 0; n < g.n; n++) {
    for (int64_t oy = 0; oy < g.out_h; oy++) {
      for (int64_t ox = 0; ox < g.out_w; ox++) {
        float* __restrict o = y + ((n * g.out_h + oy) * g.out_w + ox) * g.c;
        for (int64_t c = 0; c < g.c; c++) o[c] = lowest;
        int64_t y0, y1, x0, x1;
        Window(g, oy, ox, &y0, &y1, &x0, &x1);
        for (int64_t iy = y0; iy < y1; iy++) {
          for (int64_t ix = x0; ix < x1; ix++) {
            const float* __restrict p = x + ((n * g.h + iy) * g.w + ix) * g.c;
            for (int64_t c = 0; c < g.c; c++) o[c] = p[c] > o[c] ? p[c] : o[c];
          }
        }
      }
    }
  }
  return nullptr;
}

// For each channel, the first window position (index into offsets) holding the strict maximum
// above −∞, or −1. Its own function: the compare-and-select loop over channels vectorises.
__attribute__((noinline)) void Argmax(const float* x, const int64_t* offsets, int32_t count, int64_t channels, float lowest,
                                      float* __restrict best, int32_t* __restrict at) {
  for (int64_t c = 0; c < channels; c++) {
    best[c] = lowest;
    at[c] = -1;
  }
  for (int32_t k = 0; k < count; k++) {
    const float* __restrict p = x + offsets[k];
    for (int64_t c = 0; c < channels; c++) {
      // Branch-free (a mask instead of a select on `at`), which GCC 12 vectorises.
      const float v = p[c], b = best[c];
      const int32_t mask = -static_cast<int32_t>(v > b);
      best[c] = v > b ? v : b;
      at[c] = (at[c] & ~mask) | (k & mask);
    }
  }
}

// maxPoolGrad(dy, x, dx, geometry): dx (overwritten) gets each dy at its window's first maximum.
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  float* a[3];
  size_t l[3];
  PoolGeometry g;
  if (!ReadPool(env, info, 4, a, l, &g)) return nullptr;
  const float* dy = a[0];
  const float* x = a[1];
  float* dx = a[2];
  const int64_t x_len = g.n * g.h * g.w * g.c;
  if (static_cast<int64_t>(l[0]) != g.n * g.out_h * g.out_w * g.c || static_cast<int64_t>(l[1]) != x_len || static_cast<int64_t>(l[2]) != x_len) {
    return Throw(env, "maxPoolGrad: lengths do not match the geometry");
  }
  std::memset(dx, 0, sizeof(float) * x_len);
  // Per window: the running maximum per channel and the index (into `offsets`) of the window
  // position that holds it, both 4-byte lanes so the channel loop vectorises as compare + select.
  std::vector<float> best(static_cast<size_t>(g.c));
  std::vector<int32_t> at(static_cast<size_t>(g.c));
  std::vector<int64_t> offsets(static_cast<size_t>(g.fh * g.fw));
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t n = 0; n < g.n; n++) {
    for (int64_t oy = 0; oy < g.out_h; oy++) {
      for (int64_t ox = 0; ox < g.out_w; ox++) {
        int64_t y0, y1, x0, x1;
        Window(g, oy, ox, &y0, &y1, &x0, &x1);
        int32_t count = 0;
        for (int64_t iy = y0; iy < y1; iy++) {
          for (int64_t ix = x0; ix < x1; ix++) offsets[count++] = ((n * g.h + iy) * g.w + ix) * g.c;
        }
        Argmax(x, offsets.data(), count, g.c, lowest, best.data(), at.data());
        const float* d = dy + ((n * g.out_h + oy) * g.out_w + ox) * g.c;
        for (int64_t c = 0; c < g.c; c++) {
          if (at[c] >= 0) dx[offsets[at[c]] + c] += d[c];
        }
      }
    }
  }
  return nullptr;
}

}  // namespace

void RegisterPool(napi_env env, napi_value exports) {
  Export(env, exports, "maxPool", MaxPool);
  Export(env, exports, "maxPoolGrad", MaxPoolGrad);
}

}  // namespace esper
