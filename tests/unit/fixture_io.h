/* fixture_io.h — reading fixture files for the engine's unit tests (parity, precision, explain). */
#ifndef DEIT_TEST_FIXTURE_IO_H
#define DEIT_TEST_FIXTURE_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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

#endif
