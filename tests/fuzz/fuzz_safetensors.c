/* fuzz_safetensors.c — libFuzzer target: safetensors validation (st_parse) and tensor conversion. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* Tensors up to this many elements are converted; bigger ones only cost time, not coverage. */
#define CONVERT_MAX_NUMEL 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *f;
    char err[256];
    if (st_parse(data, size, "fuzz", &f, err, sizeof err) != DEIT_OK) {
        if (f != NULL || memchr(err, '\0', sizeof err) == NULL) abort(); /* failure contract */
        return 0;
    }
    /* What st_parse promises: every tensor's bytes lie inside the buffer, names are unique and
     * findable, sizes agree with the shape. A broken promise aborts so the fuzzer reports it. */
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (t->data < data || t->nbytes > size || (size_t)(t->data - data) > size - t->nbytes) abort();
        if (t->nbytes != t->numel * st_dtype_size(t->dtype) || t->ndim < 0 || t->ndim > ST_MAX_DIMS)
            abort();
        if (st_find(f, t->name) != t) abort();
        if (t->numel > CONVERT_MAX_NUMEL) continue;
        float *x = malloc((t->numel ? t->numel : 1) * sizeof *x);
        double *y = malloc((t->numel ? t->numel : 1) * sizeof *y);
        if (x && y) {
            int r32 = st_to_f32(t, x), r64 = st_to_f64(t, y);
            if (r32 != r64) abort();
        }
        free(x);
        free(y);
    }
    (void)st_metadata(f, "format");
    (void)st_find(f, "");
    st_close(f);
    return 0;
}
