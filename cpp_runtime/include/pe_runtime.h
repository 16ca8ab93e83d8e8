/* pe_runtime: C API of the phoneprice_edge embedded inference runtime (.pem models).
 *
 * No exceptions, no allocation on the run path: the caller owns the model bytes and the arena.
 * Every entry point returns a pe_status; a corrupt, truncated or hostile model yields an error
 * status and is never read out of bounds. See cpp_runtime/FORMAT.md for the file format. */
#ifndef PE_RUNTIME_H
#define PE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define PE_API __attribute__((visibility("default")))
#else
#define PE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PE_ABI_VERSION 1      /* bumped on any incompatible change of this header */
#define PE_FORMAT_VERSION 2   /* the newest .pem format version this runtime reads (1 and 2) */
#define PE_ARENA_ALIGN 64     /* arena and model bytes may be any address; 64 is fastest */

typedef enum pe_status {
  PE_OK = 0,
  PE_ERR_NULL_ARG = 1,       /* a required pointer was NULL */
  PE_ERR_IO = 2,             /* the file could not be opened or read */
  PE_ERR_NO_MEMORY = 3,      /* load-time allocation failed (file loader only) */
  PE_ERR_TRUNCATED = 4,      /* fewer bytes than the header or the header's file_size says */
  PE_ERR_BAD_MAGIC = 5,      /* not a .pem file */
  PE_ERR_VERSION = 6,        /* a format version this runtime does not read (it reads 1 to 3) */
  PE_ERR_HEADER = 7,         /* an inconsistent header field (sizes, offsets, counts) */
  PE_ERR_CHECKSUM = 8,       /* header or payload CRC-32 mismatch */
  PE_ERR_TENSOR = 9,         /* a tensor table entry out of bounds, misaligned or malformed */
  PE_ERR_GRAPH = 10,         /* an op list that is not a valid graph (kinds, slots, dims) */
  PE_ERR_STRINGS = 11,       /* feature / class name table malformed */
  PE_ERR_ALIGNMENT = 12,     /* in-memory model bytes not 4-byte aligned */
  PE_ERR_ARENA_TOO_SMALL = 13, /* arena cannot hold even one row */
  PE_ERR_BAD_ARG = 14,       /* rows == 0, index out of range, ... */
  PE_ERR_VALUE = 15          /* a tensor value the graph cannot use (std <= 0, eps <= 0, NaN) */
} pe_status;

typedef enum pe_precision { PE_FP32 = 0, PE_INT8 = 1 } pe_precision;

/* A validated model. Plain struct so firmware can place it anywhere (no allocation needed);
 * all pointers point into the model bytes, which must outlive the model. Treat as read-only. */
typedef struct pe_model {
  const uint8_t* base;       /* model bytes */
  size_t size;               /* bytes */
  void* owned;               /* bytes allocated by pe_model_load_file (else NULL) */
  uint32_t precision;        /* pe_precision */
  uint32_t n_features;
  uint32_t n_classes;
  uint32_t n_tensors;
  uint32_t n_ops;
  uint32_t n_slots;
  uint32_t max_width;        /* widest activation */
  const uint8_t* tensors;    /* tensor table */
  const uint8_t* ops;        /* op table */
  const char* strings;       /* feature names then class names, NUL-terminated */
  uint32_t strings_size;
} pe_model;

/* Validate `size` bytes at `data` (4-byte aligned) and describe them in *model (no copy). */
PE_API pe_status pe_model_init(pe_model* model, const void* data, size_t size);
/* Read a file into an allocated buffer and validate it; release with pe_model_release. */
PE_API pe_status pe_model_load_file(pe_model* model, const char* path);
PE_API void pe_model_release(pe_model* model);

/* Heap-allocated handle variants (for FFI callers that cannot size the struct). */
PE_API pe_status pe_model_open(const char* path, pe_model** out);
PE_API void pe_model_close(pe_model* model);

PE_API uint32_t pe_model_n_features(const pe_model* model);
PE_API uint32_t pe_model_n_classes(const pe_model* model);
PE_API uint32_t pe_model_precision(const pe_model* model);
/* Name of feature / class i, or NULL when out of range. */
PE_API const char* pe_model_feature_name(const pe_model* model, uint32_t i);
PE_API const char* pe_model_class_name(const pe_model* model, uint32_t i);

/* Arena bytes needed to run up to `max_rows` rows per internal tile (any batch runs with any
 * arena that holds one row: larger batches are processed in tiles). */
PE_API pe_status pe_arena_size(const pe_model* model, size_t max_rows, size_t* bytes);

/* Run `rows` rows of raw float32 features x[rows, n_features] into logits[rows, n_classes].
 * No allocation; the arena is scratch memory owned by the caller. */
PE_API pe_status pe_run(const pe_model* model, void* arena, size_t arena_bytes, const float* x,
                 size_t rows, float* logits);

PE_API const char* pe_status_str(pe_status status);
/* The kernel level in use: "baseline", "avx2", "avx512" or "vnni" (x86-64: chosen once from
 * cpuid, capped by the environment variable PE_CPU_DISPATCH; elsewhere "baseline"). */
PE_API const char* pe_dispatch_level(void);
PE_API uint32_t pe_abi_version(void);

#ifdef __cplusplus
}
#endif
#endif /* PE_RUNTIME_H */
