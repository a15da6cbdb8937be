/* safetensors.h — validating reader for the safetensors format (memory-mapped or in-memory).
 *
 * File layout: u64 little-endian header length N, N bytes of JSON header, then the data section.
 * Header: {"__metadata__": {str: str}?, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
 * Offsets are relative to the data section.
 *
 * st_open()/st_parse() validate everything before returning: header length within the file, JSON
 * well-formed, every dtype known, shapes non-negative with a product that does not overflow,
 * product(shape) * dtype_size == end - begin, every range inside the data section, no two ranges
 * overlapping. After a successful open, every st_tensor's `data` points at `nbytes` readable bytes.
 *
 * Thread safety: an st_file is immutable after open and may be read from any number of threads.
 */
#ifndef DEIT_SAFETENSORS_H
#define DEIT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define ST_MAX_DIMS 8
/* Header JSON larger than this is refused (the hub's own limit is 100 MB). */
#define ST_MAX_HEADER_BYTES (100u << 20)

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32,
    ST_F32, ST_F64, ST_I64, ST_U64, ST_F8_E4M3, ST_F8_E5M2
} st_dtype;

typedef struct {
    const char *name;          /* owned by the st_file */
    st_dtype dtype;
    int ndim;                  /* 0..ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS];
    size_t numel;              /* product of shape (1 for a scalar) */
    size_t nbytes;             /* numel * st_dtype_size(dtype) */
    const uint8_t *data;       /* points into the mapping; unaligned in general */
} st_tensor;

typedef struct st_file st_file;

/* Maps `path` read-only and validates it. On failure returns a DEIT_E* status, writes a message
 * naming the file (and tensor) into err, and sets *out to NULL. */
int st_open(const char *path, st_file **out, char *err, size_t errlen);

/* Same validation over a caller-owned buffer, which must outlive the st_file (used by tests and
 * fuzzers). `label` names the buffer in error messages. */
int st_parse(const uint8_t *buf, size_t len, const char *label, st_file **out, char *err, size_t errlen);

/* Frees everything (and unmaps). st_close(NULL) is a no-op. */
void st_close(st_file *f);

size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);
/* Tensor by exact name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);
/* Value of a string in __metadata__, or NULL. */
const char *st_metadata(const st_file *f, const char *key);

size_t st_dtype_size(st_dtype d);
const char *st_dtype_name(st_dtype d);

/* Converts t (F32, F16, BF16 or F64) to float32 into dst[t->numel]. F16/BF16 conversions are exact.
 * Returns DEIT_EUNSUPPORTED for other dtypes. */
int st_to_f32(const st_tensor *t, float *dst);

/* Converts t (F32, F16, BF16 or F64) to float64 into dst[t->numel]. */
int st_to_f64(const st_tensor *t, double *dst);

#endif
