/* fixture_io.h — reading fixture files and comparing with their references, for the engine's unit tests. */
#ifndef DEIT_TEST_FIXTURE_IO_H
#define DEIT_TEST_FIXTURE_IO_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "safetensors.h"

/* The whole file at path in a malloc'd buffer of *len bytes plus a NUL (so JSON files read as
 * strings), or NULL when it cannot be read. */
static inline unsigned char *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    unsigned char *b = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    fclose(f);
    return b;
}

/* The shared reference fixtures: $DEIT_SHARED_FIXTURES, else ../shared/fixtures (CI has them there). */
static inline const char *shared_fixtures(void)
{
    const char *dir = getenv("DEIT_SHARED_FIXTURES");
    return dir && *dir ? dir : "../shared/fixtures";
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
