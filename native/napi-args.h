// Argument helpers shared by the addon's translation units (N-API C API only,
// so the addon needs no node-addon-api package and no header download).
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace esper {

// Throws a JS TypeError/RangeError and returns nullptr (the value N-API functions return on error).
napi_value Throw(napi_env env, const char* message);

// Reads a Float32Array argument: data pointer and element count. Zero-copy: the
// pointer aliases the JS buffer, valid for the duration of the call.
bool Float32Arg(napi_env env, napi_value value, float** data, size_t* length);

// Reads an Int32Array argument (geometry vectors travel this way: one N-API call
// instead of a dozen).
bool Int32Arg(napi_env env, napi_value value, int32_t** data, size_t* length);

bool IntArg(napi_env env, napi_value value, int64_t* out);
bool DoubleArg(napi_env env, napi_value value, double* out);
bool BoolArg(napi_env env, napi_value value, bool* out);

// Fetches exactly `expected` arguments; throws and returns false otherwise.
bool Args(napi_env env, napi_callback_info info, size_t expected, napi_value* argv);

// Adds a native function under `name` to `exports`.
void Export(napi_env env, napi_value exports, const char* name, napi_callback fn);

// Per-file registration, called from the module initialiser in addon.cc.
void RegisterGemm(napi_env env, napi_value exports);
void RegisterConv(napi_env env, napi_value exports);
void RegisterElementwise(napi_env env, napi_value exports);
void RegisterReduce(napi_env env, napi_value exports);
void RegisterOptim(napi_env env, napi_value exports);
void RegisterPool(napi_env env, napi_value exports);

}  // namespace esper
