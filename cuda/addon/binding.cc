// The Node binding of the CUDA kernels (node-addon-api): a thin table of launchers. Device memory
// is handed to JavaScript as plain numbers (device addresses, below 2^53 on every 64-bit driver);
// src/backend/cuda/ owns every layout decision and passes addresses and sizes here. Every launcher
// enqueues on the binding's one stream and returns at once; only read(), synchronize() and the
// timers wait for the device. A CUDA failure becomes a JavaScript Error whose message starts with
// the CUDA error name.
#include <dlfcn.h>
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../kernels.h"

namespace {

cudaStream_t g_stream = nullptr;
cudaEvent_t g_t0 = nullptr, g_t1 = nullptr;
std::vector<cudaGraphExec_t> g_graphs;

[[noreturn]] void fail(const Napi::Env& env, cudaError_t e, const char* what) {
  throw Napi::Error::New(env, std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e) + " (" + what + ")");
}

void check(const Napi::Env& env, cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(env, e, what);
}

/** Reads a call's arguments by position, with type checks that throw TypeError. */
struct Args {
  const Napi::CallbackInfo& info;
  explicit Args(const Napi::CallbackInfo& i) : info(i) {}
  double number(size_t i) const {
    if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
    return info[i].As<Napi::Number>().DoubleValue();
  }
  int integer(size_t i) const { return (int)number(i); }
  long long wide(size_t i) const { return (long long)number(i); }
  bool flag(size_t i) const { return number(i) != 0; }
  void* ptr(size_t i) const { return reinterpret_cast<void*>((uintptr_t)number(i)); }
  float* f32(size_t i) const { return static_cast<float*>(ptr(i)); }
  const int32_t* i32(size_t i) const { return static_cast<const int32_t*>(ptr(i)); }
  const uint8_t* u8(size_t i) const { return static_cast<const uint8_t*>(ptr(i)); }
  Napi::TypedArray typed(size_t i) const {
    if (i >= info.Length() || !info[i].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a typed array");
    return info[i].As<Napi::TypedArray>();
  }
};

void* bytes_of(const Napi::TypedArray& a) { return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(); }

Napi::Value address(const Napi::Env& env, void* p) { return Napi::Number::New(env, (double)(uintptr_t)p); }

/** Whether the driver library loads at all: without it the runtime reports an "insufficient" driver. */
bool driver_installed() {
  void* h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (h) dlclose(h);
  return h != nullptr;
}

/** {ok: true, name, ...} for device 0, or {ok: false, reason: 'no-device' | 'driver', message}; never throws. */
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    // a machine with no NVIDIA driver has no device; a driver that is there but fails is an error
    const bool no_driver = e == cudaErrorInsufficientDriver && !driver_installed();
    const bool none = no_driver || e == cudaErrorNoDevice || (e == cudaSuccess && count == 0);
    o.Set("ok", false);
    o.Set("reason", none ? "no-device" : "driver");
    o.Set("message", no_driver ? std::string("no NVIDIA driver here: libcuda.so.1 does not load")
                     : e == cudaSuccess ? std::string("no CUDA device")
                                        : std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e));
    return o;
  }
  cudaDeviceProp p{};
  int mem_khz = 0, bus_bits = 0;
  cudaGetDeviceProperties(&p, 0);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  o.Set("ok", true);
  o.Set("name", p.name);
  o.Set("devices", count);
  o.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
  o.Set("memoryBytes", (double)p.totalGlobalMem);
  o.Set("l2Bytes", (double)p.l2CacheSize);
  o.Set("multiprocessors", p.multiProcessorCount);
  // double data rate: two transfers per memory clock
  o.Set("bandwidthGBs", 2.0 * mem_khz * 1e3 * (bus_bits / 8) / 1e9);
  return o;
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check(env, cudaSetDevice(Args(info).integer(0)), "cudaSetDevice");
  if (!g_stream) {
    check(env, cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "cudaStreamCreate");
    check(env, cudaEventCreate(&g_t0), "cudaEventCreate");
    check(env, cudaEventCreate(&g_t1), "cudaEventCreate");
  }
  return Napi::Number::New(env, sqz::attention_prepare());
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const size_t bytes = (size_t)Args(info).wide(0);
  void* p = nullptr;
  check(env, cudaMalloc(&p, bytes > 0 ? bytes : 1), "cudaMalloc");
  check(env, cudaMemsetAsync(p, 0, bytes, g_stream), "cudaMemset");
  if ((uintptr_t)p >= (uintptr_t(1) << 53)) fail(env, cudaErrorInvalidValue, "device address above 2^53");
  return address(env, p);
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  check(info.Env(), cudaFree(Args(info).ptr(0)), "cudaFree");
  return info.Env().Undefined();
}

/** write(address, typedArray): the array's bytes to the device (returns when they are copied). */
Napi::Value Write(const Napi::CallbackInfo& info) {
  Args a(info);
  Napi::TypedArray t = a.typed(1);
  check(info.Env(), cudaMemcpyAsync(a.ptr(0), bytes_of(t), t.ByteLength(), cudaMemcpyHostToDevice, g_stream), "write");
  check(info.Env(), cudaStreamSynchronize(g_stream), "write");
  return info.Env().Undefined();
}

/** read(address, n): n floats back, after everything enqueued before has run. */
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info);
  const size_t n = (size_t)a.wide(1);
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  check(env, cudaMemcpyAsync(bytes_of(out), a.ptr(0), n * sizeof(float), cudaMemcpyDeviceToHost, g_stream), "read");
  check(env, cudaStreamSynchronize(g_stream), "read");
  return out;
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  check(info.Env(), cudaStreamSynchronize(g_stream), "synchronize");
  return info.Env().Undefined();
}

// ---- kernels (argument order as in cuda/kernels.h, the stream left out) ----------------------

#define LAUNCH(name, call)                                   \
  Napi::Value name(const Napi::CallbackInfo& info) {         \
    Args a(info);                                            \
    check(info.Env(), call, #name);                          \
    return info.Env().Undefined();                           \
  }

LAUNCH(MatmulLut, sqz::lut_matmul(a.f32(0), a.ptr(1), a.flag(2), a.u8(3), a.f32(4), a.integer(5), a.integer(6), a.integer(7), a.integer(8), g_stream))
LAUNCH(MatmulUniform, sqz::uniform_matmul(a.f32(0), a.f32(1), a.f32(2), a.u8(3), a.f32(4), a.integer(5), a.integer(6), a.integer(7), a.integer(8), a.integer(9), g_stream))
LAUNCH(MatmulDense, sqz::dense_matmul(a.f32(0), a.ptr(1), a.flag(2), a.f32(3), a.integer(4), a.integer(5), a.integer(6), g_stream))
LAUNCH(SpmmCsrAdd, sqz::csr_spmm_add(a.f32(0), a.i32(1), a.i32(2), a.f32(3), a.i32(4), a.integer(5), a.f32(6), a.integer(7), a.integer(8), a.integer(9), g_stream))
LAUNCH(Rmsnorm, sqz::rmsnorm(a.f32(0), a.f32(1), a.f32(2), a.integer(3), a.integer(4), (float)a.number(5), g_stream))
LAUNCH(Rope, sqz::rope(a.f32(0), a.integer(1), a.integer(2), a.integer(3), (float)a.number(4), a.flag(5), g_stream))
LAUNCH(Attention, sqz::attention(a.f32(0), a.f32(1), a.f32(2), a.f32(3), a.integer(4), a.integer(5), a.integer(6), a.integer(7), g_stream))
LAUNCH(Swiglu, sqz::swiglu(a.f32(0), a.f32(1), a.f32(2), a.wide(3), g_stream))
LAUNCH(Add, sqz::residual_add(a.f32(0), a.f32(1), a.f32(2), a.wide(3), g_stream))
LAUNCH(EmbedF32, sqz::embed_f32(a.f32(0), a.f32(1), a.integer(2), a.integer(3), g_stream))
LAUNCH(EmbedF16, sqz::embed_f16(a.f32(0), a.ptr(1), a.integer(2), a.integer(3), g_stream))
LAUNCH(EmbedLut, sqz::embed_lut(a.f32(0), a.ptr(1), a.flag(2), a.u8(3), a.i32(4), a.i32(5), a.f32(6), a.integer(7), a.integer(8), a.integer(9), g_stream))
LAUNCH(EmbedUniform, sqz::embed_uniform(a.f32(0), a.f32(1), a.f32(2), a.u8(3), a.integer(4), a.integer(5), a.integer(6), a.integer(7), g_stream))

// ---- timing (bench/cuda.ts) ------------------------------------------------------------------

/** Starts capturing the stream's launches into a graph (nothing runs until it is replayed). */
Napi::Value CaptureBegin(const Napi::CallbackInfo& info) {
  check(info.Env(), cudaStreamBeginCapture(g_stream, cudaStreamCaptureModeThreadLocal), "captureBegin");
  return info.Env().Undefined();
}

/** Ends the capture; returns a graph id for timeGraph. */
Napi::Value CaptureEnd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cudaGraph_t g = nullptr;
  cudaGraphExec_t x = nullptr;
  check(env, cudaStreamEndCapture(g_stream, &g), "captureEnd");
  check(env, cudaGraphInstantiate(&x, g, 0), "cudaGraphInstantiate");
  cudaGraphDestroy(g);
  g_graphs.push_back(x);
  return Napi::Number::New(env, (double)(g_graphs.size() - 1));
}

/** timeGraph(id, reps): milliseconds of device time per replay of the graph, over reps replays. */
Napi::Value TimeGraph(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a(info);
  const size_t id = (size_t)a.integer(0);
  const int reps = a.integer(1);
  if (id >= g_graphs.size()) throw Napi::RangeError::New(env, "no such graph");
  check(env, cudaGraphLaunch(g_graphs[id], g_stream), "graph warm-up");
  check(env, cudaEventRecord(g_t0, g_stream), "cudaEventRecord");
  for (int i = 0; i < reps; i++) check(env, cudaGraphLaunch(g_graphs[id], g_stream), "cudaGraphLaunch");
  check(env, cudaEventRecord(g_t1, g_stream), "cudaEventRecord");
  check(env, cudaEventSynchronize(g_t1), "cudaEventSynchronize");
  float ms = 0;
  check(env, cudaEventElapsedTime(&ms, g_t0, g_t1), "cudaEventElapsedTime");
  return Napi::Number::New(env, ms / reps);
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Function::Callback> fns[] = {
      {"probe", Probe}, {"init", Init}, {"alloc", Alloc}, {"free", Free}, {"write", Write}, {"read", Read},
      {"synchronize", Synchronize}, {"matmulLut", MatmulLut}, {"matmulUniform", MatmulUniform},
      {"matmulDense", MatmulDense}, {"spmmCsrAdd", SpmmCsrAdd}, {"rmsnorm", Rmsnorm}, {"rope", Rope},
      {"attention", Attention}, {"swiglu", Swiglu}, {"add", Add}, {"embedF32", EmbedF32},
      {"embedF16", EmbedF16}, {"embedLut", EmbedLut}, {"embedUniform", EmbedUniform},
      {"captureBegin", CaptureBegin}, {"captureEnd", CaptureEnd}, {"timeGraph", TimeGraph},
  };
  for (const auto& [name, fn] : fns) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace

NODE_API_MODULE(sqz_cuda, Module)
