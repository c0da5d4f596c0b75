/* A fake libcuda.so.1 for CPU tests (test machinery: see fake_libcuda.py, which builds and loads it).
 *
 * Built with: gcc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -I<triton>/backends/nvidia/include
 * It exports the CUDA driver entry points that Triton 3.0-3.9's compiled launchers and its
 * driver.c (CudaUtils) reference, with the names that Triton's bundled cuda.h gives them (the
 * header's macros, e.g. a _v2 suffix, apply here exactly as in the launchers). Once this library
 * is loaded (RTLD_GLOBAL) as "libcuda.so.1", every later module linked with -lcuda and every
 * dlopen("libcuda.so.1") in the process resolves to it: the dynamic loader matches an already
 * loaded object by its soname.
 *
 * What it does instead of driving a GPU (every difference from the real driver):
 *  - cuLaunchKernel / cuLaunchKernelEx launch nothing. They record the launch: entry point, function
 *    handle, grid, block, dynamic shared memory, stream, launch attributes (id and the first 16 bytes
 *    of the value) and the parameter bytes: size_i bytes from params[i], the sizes coming from
 *    tc_fake_register(function, n, sizes) (the real driver knows them from the loaded cubin). An
 *    unregistered function, or a launch through `extra` (no kernelParams), is recorded with an error
 *    flag and no parameter bytes; the call still returns CUDA_SUCCESS. tc_fake_fail_next_launch(code)
 *    makes the next launch return that code and record nothing (counted in n_launch_failed).
 *  - cuPointerGetAttribute(CU_POINTER_ATTRIBUTE_DEVICE_POINTER) accepts every pointer (there is no
 *    memory to check) and answers ptr + delta, delta from tc_fake_map(ptr, size, delta) ranges, 0 by
 *    default; a pointer inside a tc_fake_mark_host range gets CUDA_ERROR_INVALID_VALUE (what the real
 *    driver answers for unregistered host memory). Other attributes: CUDA_ERROR_NOT_SUPPORTED.
 *  - Contexts, devices, modules and functions are opaque made-up handles; nothing is validated.
 *    cuCtxGetCurrent answers a fake context, or NULL after tc_fake_set_no_context(1) until some
 *    cuCtxSetCurrent(ctx) (the real "no context yet on this thread" case). 2 devices, sm_90-like
 *    attributes (H100-ish numbers). cuTensorMapEncode* zero the map and succeed.
 *  - cuGetErrorString / cuGetErrorName know a handful of codes; for any other code they return
 *    CUDA_ERROR_INVALID_VALUE like the real driver, but also set the string to "unknown error"
 *    (the real one leaves it NULL, which Triton's gpuAssert would strcat and crash on).
 *  - One global state for the process, guarded by a mutex; not per context or per thread.
 */
#include "cuda.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TC_EXPORT __attribute__((visibility("default")))

#define TC_MAX_PARAMS 256
#define TC_MAX_ATTRS 8

/* One recorded launch. Read from Python through ctypes (fake_libcuda.py mirrors this layout). */
typedef struct {
  int entry;                 /* 1 = cuLaunchKernel, 2 = cuLaunchKernelEx */
  int error;                 /* 0; 1 = function not registered; 2 = launched through `extra`; 3 = too many params */
  uint64_t function;
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t shared;
  uint32_t num_attrs;
  uint64_t stream;
  int32_t attr_id[TC_MAX_ATTRS];
  uint32_t attr_value[TC_MAX_ATTRS][4]; /* first 16 bytes of CUlaunchAttributeValue */
  int32_t num_params;                   /* -1 when unknown (error) */
  int32_t total_bytes;
  const unsigned char *params;          /* num_params parameters, packed back to back */
  int32_t param_size[TC_MAX_PARAMS];
} tc_fake_launch;

typedef struct {
  uint64_t function;
  int n;
  int *sizes;
} tc_function;

typedef struct {
  uint64_t start, size;
  int64_t delta;
  int host;
} tc_range;

enum {
  TC_N_POINTER_GET_ATTRIBUTE,
  TC_N_CTX_GET_CURRENT,
  TC_N_CTX_SET_CURRENT,
  TC_N_DEVICE_GET,
  TC_N_PRIMARY_CTX_RETAIN,
  TC_N_LAUNCH_KERNEL,
  TC_N_LAUNCH_KERNEL_EX,
  TC_N_LAUNCH_FAILED,
  TC_N_FUNC_SET_ATTRIBUTE,
  TC_N_MODULE_LOAD,
  TC_N_COUNTERS
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static tc_fake_launch *launches = NULL;
static int n_launches = 0, cap_launches = 0;
static tc_function *functions = NULL;
static int n_functions = 0, cap_functions = 0;
static tc_range *ranges = NULL;
static int n_ranges = 0, cap_ranges = 0;
static long counters[TC_N_COUNTERS];
static CUresult fail_next = CUDA_SUCCESS;

#define FAKE_CONTEXT ((CUcontext)(uintptr_t)0xC0C0000)
static CUcontext current_context = FAKE_CONTEXT;
static uint64_t next_handle = 0xF0000000ull;

#define GROW(arr, n, cap)                                       \
  do {                                                          \
    if ((n) == (cap)) {                                         \
      int _c = (cap) ? 2 * (cap) : 16;                          \
      void *_p = realloc((arr), (size_t)_c * sizeof(*(arr)));   \
      if (!_p) abort();                                         \
      (arr) = _p;                                               \
      (cap) = _c;                                               \
    }                                                           \
  } while (0)

/* ------------------------------------------------------------------ test API (tc_fake_*) */

TC_EXPORT int tc_fake_register(CUfunction f, int n, const int *sizes) {
  if (n < 0 || n > TC_MAX_PARAMS) return -1;
  int *copy = malloc(sizeof(int) * (n ? n : 1));
  if (!copy) return -1;
  memcpy(copy, sizes, sizeof(int) * n);
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n_functions; ++i)
    if (functions[i].function == (uint64_t)(uintptr_t)f) {
      free(functions[i].sizes);
      functions[i].n = n;
      functions[i].sizes = copy;
      pthread_mutex_unlock(&lock);
      return 0;
    }
  GROW(functions, n_functions, cap_functions);
  functions[n_functions++] = (tc_function){(uint64_t)(uintptr_t)f, n, copy};
  pthread_mutex_unlock(&lock);
  return 0;
}

static int add_range(uint64_t start, uint64_t size, int64_t delta, int host) {
  pthread_mutex_lock(&lock);
  GROW(ranges, n_ranges, cap_ranges);
  ranges[n_ranges++] = (tc_range){start, size, delta, host};
  pthread_mutex_unlock(&lock);
  return 0;
}

TC_EXPORT int tc_fake_mark_host(uint64_t ptr, uint64_t size) { return add_range(ptr, size ? size : 1, 0, 1); }

TC_EXPORT int tc_fake_map(uint64_t ptr, uint64_t size, int64_t delta) {
  return add_range(ptr, size ? size : 1, delta, 0);
}

TC_EXPORT void tc_fake_set_no_context(int on) {
  pthread_mutex_lock(&lock);
  current_context = on ? NULL : FAKE_CONTEXT;
  pthread_mutex_unlock(&lock);
}

TC_EXPORT void tc_fake_fail_next_launch(CUresult code) {
  pthread_mutex_lock(&lock);
  fail_next = code;
  pthread_mutex_unlock(&lock);
}

TC_EXPORT int tc_fake_num_launches(void) {
  pthread_mutex_lock(&lock);
  int n = n_launches;
  pthread_mutex_unlock(&lock);
  return n;
}

/* Copies launch i into *out (its params pointer stays valid until the next reset). */
TC_EXPORT int tc_fake_get_launch(int i, tc_fake_launch *out) {
  pthread_mutex_lock(&lock);
  int ok = i >= 0 && i < n_launches;
  if (ok) *out = launches[i];
  pthread_mutex_unlock(&lock);
  return ok ? 0 : -1;
}

TC_EXPORT int tc_fake_launch_struct_size(void) { return (int)sizeof(tc_fake_launch); }

TC_EXPORT int tc_fake_num_counters(void) { return TC_N_COUNTERS; }

TC_EXPORT long tc_fake_counter(int which) {
  if (which < 0 || which >= TC_N_COUNTERS) return -1;
  pthread_mutex_lock(&lock);
  long v = counters[which];
  pthread_mutex_unlock(&lock);
  return v;
}

/* Forgets launches, counters, host/mapped ranges, the pending failure and the no-context switch.
 * Registered functions stay: compiled kernels keep their handles across tests. */
TC_EXPORT void tc_fake_reset(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < n_launches; ++i) free((void *)launches[i].params);
  n_launches = 0;
  n_ranges = 0;
  memset(counters, 0, sizeof(counters));
  fail_next = CUDA_SUCCESS;
  current_context = FAKE_CONTEXT;
  pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------------ launches */

static CUresult record(int entry, CUfunction f, const unsigned grid[3], const unsigned block[3], unsigned shared,
                       CUstream stream, const CUlaunchAttribute *attrs, unsigned num_attrs, void **params,
                       void **extra) {
  pthread_mutex_lock(&lock);
  counters[entry == 1 ? TC_N_LAUNCH_KERNEL : TC_N_LAUNCH_KERNEL_EX]++;
  if (fail_next != CUDA_SUCCESS) {
    CUresult code = fail_next;
    fail_next = CUDA_SUCCESS;
    counters[TC_N_LAUNCH_FAILED]++;
    pthread_mutex_unlock(&lock);
    return code;
  }
  tc_fake_launch L;
  memset(&L, 0, sizeof(L));
  L.entry = entry;
  L.function = (uint64_t)(uintptr_t)f;
  memcpy(L.grid, grid, sizeof(L.grid));
  memcpy(L.block, block, sizeof(L.block));
  L.shared = shared;
  L.stream = (uint64_t)(uintptr_t)stream;
  L.num_attrs = num_attrs;
  for (unsigned i = 0; i < num_attrs && i < TC_MAX_ATTRS; ++i) {
    L.attr_id[i] = (int32_t)attrs[i].id;
    memcpy(L.attr_value[i], &attrs[i].value, sizeof(L.attr_value[i]));
  }
  L.num_params = -1;
  tc_function *fn = NULL;
  for (int i = 0; i < n_functions; ++i)
    if (functions[i].function == L.function) fn = &functions[i];
  if (!fn)
    L.error = 1;
  else if (!params)
    L.error = 2;
  else {
    int total = 0;
    for (int i = 0; i < fn->n; ++i) total += fn->sizes[i];
    unsigned char *buf = malloc(total ? total : 1);
    if (!buf) abort();
    int off = 0;
    for (int i = 0; i < fn->n; ++i) {
      memcpy(buf + off, params[i], fn->sizes[i]);
      L.param_size[i] = fn->sizes[i];
      off += fn->sizes[i];
    }
    L.num_params = fn->n;
    L.total_bytes = total;
    L.params = buf;
  }
  (void)extra;
  if (extra && !params) L.error = 2;
  GROW(launches, n_launches, cap_launches);
  launches[n_launches++] = L;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra) {
  unsigned grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};
  return record(1, f, grid, block, sharedMemBytes, hStream, NULL, 0, kernelParams, extra);
}

CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra) {
  if (!config) return CUDA_ERROR_INVALID_VALUE;
  unsigned grid[3] = {config->gridDimX, config->gridDimY, config->gridDimZ};
  unsigned block[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
  return record(2, f, grid, block, config->sharedMemBytes, config->hStream, config->attrs, config->numAttrs,
                kernelParams, extra);
}

/* ------------------------------------------------------------------ pointers */

static CUresult device_pointer(CUdeviceptr ptr, CUdeviceptr *out) {
  pthread_mutex_lock(&lock);
  counters[TC_N_POINTER_GET_ATTRIBUTE]++;
  int64_t delta = 0;
  CUresult status = CUDA_SUCCESS;
  for (int i = n_ranges - 1; i >= 0; --i) { /* the latest range wins */
    tc_range *r = &ranges[i];
    if ((uint64_t)ptr >= r->start && (uint64_t)ptr - r->start < r->size) {
      if (r->host)
        status = CUDA_ERROR_INVALID_VALUE;
      else
        delta = r->delta;
      break;
    }
  }
  pthread_mutex_unlock(&lock);
  if (status == CUDA_SUCCESS) *out = (CUdeviceptr)((uint64_t)ptr + (uint64_t)delta);
  return status;
}

CUresult CUDAAPI cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  if (attribute != CU_POINTER_ATTRIBUTE_DEVICE_POINTER) return CUDA_ERROR_NOT_SUPPORTED;
  return device_pointer(ptr, (CUdeviceptr *)data);
}

/* Fakes DEVICE_POINTER as above; every other attribute's output is zeroed (8 bytes: callers must
 * pass outputs at least that large), which the real driver would fill in. */
CUresult CUDAAPI cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data,
                                        CUdeviceptr ptr) {
  for (unsigned i = 0; i < numAttributes; ++i) {
    if (attributes[i] == CU_POINTER_ATTRIBUTE_DEVICE_POINTER) {
      CUresult s = device_pointer(ptr, (CUdeviceptr *)data[i]);
      if (s != CUDA_SUCCESS) return s;
    } else if (data[i]) {
      memset(data[i], 0, 8);
    }
  }
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ errors */

static const char *error_string(CUresult c, int name) {
  switch ((int)c) {
#define E(code, nm, str) \
  case code:             \
    return name ? nm : str;
    E(0, "CUDA_SUCCESS", "no error")
    E(1, "CUDA_ERROR_INVALID_VALUE", "invalid argument")
    E(2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory")
    E(3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error")
    E(100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected")
    E(101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal")
    E(200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid")
    E(201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context")
    E(400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle")
    E(500, "CUDA_ERROR_NOT_FOUND", "named symbol not found")
    E(700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered")
    E(701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch")
    E(702, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated")
    E(719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure")
    E(720, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", "too many blocks in cooperative launch")
    E(801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported")
    E(999, "CUDA_ERROR_UNKNOWN", "unknown error")
#undef E
  }
  return NULL;
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char **pStr) {
  const char *s = error_string(error, 0);
  *pStr = s ? s : "unknown error";
  return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **pStr) {
  const char *s = error_string(error, 1);
  *pStr = s ? s : "CUDA_ERROR_UNKNOWN";
  return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ------------------------------------------------------------------ init, devices, contexts */

#define FAKE_DEVICE_COUNT 2

static void count(int which) {
  pthread_mutex_lock(&lock);
  counters[which]++;
  pthread_mutex_unlock(&lock);
}

CUresult CUDAAPI cuInit(unsigned int Flags) {
  (void)Flags;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int *driverVersion) {
  *driverVersion = CUDA_VERSION;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int *n) {
  *n = FAKE_DEVICE_COUNT;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal) {
  count(TC_N_DEVICE_GET);
  if (ordinal < 0 || ordinal >= FAKE_DEVICE_COUNT) return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

/* H100-like numbers (what FakeCuda's properties say); 0 for anything else. */
CUresult CUDAAPI cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
  (void)dev;
  switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *pi = 232448; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *pi = 49152; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 132; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: *pi = 65536; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = 32; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *pi = 1980000; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *pi = 2619000; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *pi = 5120; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    default: *pi = 0;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
  count(TC_N_PRIMARY_CTX_RETAIN);
  *pctx = (CUcontext)((uintptr_t)FAKE_CONTEXT + (uintptr_t)dev * 0x100);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext *pctx) {
  pthread_mutex_lock(&lock);
  counters[TC_N_CTX_GET_CURRENT]++;
  *pctx = current_context;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  pthread_mutex_lock(&lock);
  counters[TC_N_CTX_SET_CURRENT]++;
  current_context = ctx;
  pthread_mutex_unlock(&lock);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetDevice(CUdevice *device) {
  pthread_mutex_lock(&lock);
  uintptr_t c = (uintptr_t)current_context;
  pthread_mutex_unlock(&lock);
  if (!c) return CUDA_ERROR_INVALID_CONTEXT;
  *device = (CUdevice)((c - (uintptr_t)FAKE_CONTEXT) / 0x100);
  return CUDA_SUCCESS;
}

static size_t printf_fifo = 1 << 20;

CUresult CUDAAPI cuCtxGetLimit(size_t *pvalue, CUlimit limit) {
  *pvalue = limit == CU_LIMIT_PRINTF_FIFO_SIZE ? printf_fifo : 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetLimit(CUlimit limit, size_t value) {
  if (limit == CU_LIMIT_PRINTF_FIFO_SIZE) printf_fifo = value;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus) {
  (void)hStream;
  *captureStatus = CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ modules, functions */

static uint64_t new_handle(void) {
  pthread_mutex_lock(&lock);
  uint64_t h = next_handle;
  next_handle += 0x10;
  pthread_mutex_unlock(&lock);
  return h;
}

/* Does not read the image: any bytes "load". */
CUresult CUDAAPI cuModuleLoadData(CUmodule *module, const void *image) {
  (void)image;
  count(TC_N_MODULE_LOAD);
  *module = (CUmodule)(uintptr_t)new_handle();
  return CUDA_SUCCESS;
}

/* Any name "exists"; the function's parameter sizes stay unknown until tc_fake_register. */
CUresult CUDAAPI cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) {
  (void)hmod;
  (void)name;
  *hfunc = (CUfunction)(uintptr_t)new_handle();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule hmod) {
  (void)hmod;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc) {
  (void)hfunc;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 32; break;
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    default: *pi = 0;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  (void)hfunc;
  (void)attrib;
  (void)value;
  count(TC_N_FUNC_SET_ATTRIBUTE);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
  (void)hfunc;
  (void)config;
  return CUDA_SUCCESS;
}

/* Always 1 cluster. */
CUresult CUDAAPI cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config) {
  (void)func;
  (void)config;
  *numClusters = 1;
  return CUDA_SUCCESS;
}

/* A zeroed descriptor: nothing is encoded or checked. */
CUresult CUDAAPI cuTensorMapEncodeTiled(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
                                        cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
                                        const cuuint64_t *globalStrides, const cuuint32_t *boxDim,
                                        const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
                                        CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
                                        CUtensorMapFloatOOBfill oobFill) {
  (void)tensorDataType, (void)tensorRank, (void)globalAddress, (void)globalDim, (void)globalStrides, (void)boxDim,
      (void)elementStrides, (void)interleave, (void)swizzle, (void)l2Promotion, (void)oobFill;
  memset(tensorMap, 0, sizeof(*tensorMap));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuTensorMapEncodeIm2col(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
                                         cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
                                         const cuuint64_t *globalStrides, const int *pixelBoxLowerCorner,
                                         const int *pixelBoxUpperCorner, cuuint32_t channelsPerPixel,
                                         cuuint32_t pixelsPerColumn, const cuuint32_t *elementStrides,
                                         CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                                         CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill) {
  (void)tensorDataType, (void)tensorRank, (void)globalAddress, (void)globalDim, (void)globalStrides,
      (void)pixelBoxLowerCorner, (void)pixelBoxUpperCorner, (void)channelsPerPixel, (void)pixelsPerColumn,
      (void)elementStrides, (void)interleave, (void)swizzle, (void)l2Promotion, (void)oobFill;
  memset(tensorMap, 0, sizeof(*tensorMap));
  return CUDA_SUCCESS;
}
