/* fixture_io.h — reading fixture files and comparing with their references, for the engine's unit tests. */
#ifndef DEIT_TEST_FIXTURE_IO_H
#define DEIT_TEST_FIXTURE_IO_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "safetensors.h"

/* The whole file at path in a malloc'd buffer (*len bytes), or NULL when it cannot be opened. */
static inline unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

/* 1 when p names a directory (the shared fixtures may be absent outside CI). */
static inline int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Max |ref - v| over n values of an F64 reference tensor; 1e30 on a shape mismatch or a NaN. */
static inline double max_diff_f64(const st_tensor *t, const float *v, int n)
{
    if (!t || (int)t->numel != n)
        return 1e30;
    double *ref = malloc((size_t)n * sizeof(double)), md = 0;
    st_to_f64(t, ref);
    for (int i = 0; i < n; i++) {
        double d = fabs(ref[i] - v[i]);
        md = d != d ? 1e30 : (d > md ? d : md);
    }
    free(ref);
    return md;
}

#endif
