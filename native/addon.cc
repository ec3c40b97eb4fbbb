// Module initialiser and the process-wide knobs (BLAS thread count, build info).
//
// NAPI_MODULE_INIT makes the addon context-aware: it can be loaded by the main
// thread and by any number of worker_threads (Esper trains in a worker). The
// addon keeps no per-context state, so nothing needs instance data.
#include <cblas.h>

#include <cstring>
#include <string>

#include "napi-args.h"

namespace esper {

napi_value Throw(napi_env env, const char* message) {
  napi_throw_range_error(env, nullptr, message);
  return nullptr;
}

bool Float32Arg(napi_env env, napi_value value, float** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    Throw(env, "expected a Float32Array");
    return false;
  }
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok || type != napi_float32_array) {
    Throw(env, "expected a Float32Array");
    return false;
  }
  *data = static_cast<float*>(raw);
  return true;
}

bool Int32Arg(napi_env env, napi_value value, int32_t** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    Throw(env, "expected an Int32Array");
    return false;
  }
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok || type != napi_int32_array) {
    Throw(env, "expected an Int32Array");
    return false;
  }
  *data = static_cast<int32_t*>(raw);
  return true;
}

bool IntArg(napi_env env, napi_value value, int64_t* out) {
  if (napi_get_value_int64(env, value, out) != napi_ok) {
    Throw(env, "expected an integer");
    return false;
  }
  return true;
}

bool DoubleArg(napi_env env, napi_value value, double* out) {
  if (napi_get_value_double(env, value, out) != napi_ok) {
    Throw(env, "expected a number");
    return false;
  }
  return true;
}

bool BoolArg(napi_env env, napi_value value, bool* out) {
  if (napi_get_value_bool(env, value, out) != napi_ok) {
    Throw(env, "expected a boolean");
    return false;
  }
  return true;
}

bool Args(napi_env env, napi_callback_info info, size_t expected, napi_value* argv) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != expected) {
    std::string message = "expected " + std::to_string(expected) + " arguments";
    Throw(env, message.c_str());
    return false;
  }
  return true;
}

void Export(napi_env env, napi_value exports, const char* name, napi_callback fn) {
  napi_value value;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &value);
  napi_set_named_property(env, exports, name, value);
}

namespace {

// setThreads(n): OpenBLAS's pool size is process-wide, so a worker calling it
// changes it for every thread of the process (Esper trains in one worker).
napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  int64_t n = 0;
  if (!IntArg(env, argv[0], &n)) return nullptr;
  if (n < 1 || n > 1024) return Throw(env, "setThreads: n must be in 1..1024");
  openblas_set_num_threads(static_cast<int>(n));
  return nullptr;
}

napi_value GetThreads(napi_env env, napi_callback_info /*info*/) {
  napi_value result;
  napi_create_int32(env, openblas_get_num_threads(), &result);
  return result;
}

// The BLAS build string (e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Haswell MAX_THREADS=64"), for reports.
napi_value BlasConfig(napi_env env, napi_callback_info /*info*/) {
  const char* config = openblas_get_config();
  napi_value result;
  napi_create_string_utf8(env, config == nullptr ? "" : config, NAPI_AUTO_LENGTH, &result);
  return result;
}

}  // namespace
}  // namespace esper

NAPI_MODULE_INIT() {
  esper::Export(env, exports, "setThreads", esper::SetThreads);
  esper::Export(env, exports, "getThreads", esper::GetThreads);
  esper::Export(env, exports, "blasConfig", esper::BlasConfig);
  esper::RegisterGemm(env, exports);
  esper::RegisterConv(env, exports);
  esper::RegisterElementwise(env, exports);
  esper::RegisterReduce(env, exports);
  esper::RegisterOptim(env, exports);
  esper::RegisterPool(env, exports);
  return exports;
}
