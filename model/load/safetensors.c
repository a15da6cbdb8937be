/* safetensors.c — validating safetensors reader: maps the file, checks the header, converts tensors. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct st_file {
    st_tensor *tensors;        /* [n], sorted by name for st_find's bsearch */
    size_t n;
    char **meta_keys, **meta_vals; /* [n_meta] strings of __metadata__, owned */
    size_t n_meta;
    void *map;                 /* st_open's mapping, or NULL for st_parse */
    size_t map_len;
};

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_BOOL] = {"BOOL", 1},   [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},
    [ST_I16] = {"I16", 2},     [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2},   [ST_I32] = {"I32", 4},   [ST_U32] = {"U32", 4},
    [ST_F32] = {"F32", 4},     [ST_F64] = {"F64", 8},   [ST_I64] = {"I64", 8},
    [ST_U64] = {"U64", 8},     [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};
#define N_DTYPES (sizeof dtype_info / sizeof dtype_info[0])

size_t st_dtype_size(st_dtype d)
{
    return (unsigned)d < N_DTYPES ? dtype_info[d].size : 0;
}

const char *st_dtype_name(st_dtype d)
{
    return (unsigned)d < N_DTYPES ? dtype_info[d].name : "?";
}

/* Dtype by its header spelling; returns -1 for an unknown one. */
static int dtype_from_name(const char *s)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) return (int)i;
    return -1;
}

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

/* Overlap check works on (begin, end, index) triples so that it can name both tensors. */
typedef struct {
    size_t begin, end;
    const char *name;
} span;

static int cmp_by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

void st_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    if (f->map) munmap(f->map, f->map_len);
    free(f);
}

/* Reads __metadata__ into f. It must be an object whose values are all strings. */
static int parse_metadata(st_file *f, const json_t *meta, const char *label, char *err, size_t errlen)
{
    if (!json_is_object(meta))
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: __metadata__ is not an object", label);
    size_t n = json_object_size(meta);
    f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
    f->meta_vals = calloc(n ? n : 1, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals)
        return deit_fail(err, errlen, DEIT_ENOMEM, "%s: out of memory", label);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val) {
        if (!json_is_string(val))
            return deit_fail(err, errlen, DEIT_EINVAL, "%s: __metadata__ '%s': value is not a string",
                             label, key);
        f->meta_keys[f->n_meta] = strdup(key);
        f->meta_vals[f->n_meta] = strdup(json_string_value(val));
        f->n_meta++; /* counted before the check so st_close frees a half-made pair */
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_vals[f->n_meta - 1])
            return deit_fail(err, errlen, DEIT_ENOMEM, "%s: out of memory", label);
    }
    return DEIT_OK;
}

/* Validates one header entry and fills t (except name). `data_len` bounds the offsets; `data`
 * is the start of the data section. Every message names the label and the tensor. */
static int parse_entry(st_tensor *t, const char *name, const json_t *v, const uint8_t *data,
                       size_t data_len, const char *label, char *err, size_t errlen)
{
    if (!json_is_object(v))
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': entry is not an object", label, name);

    const json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd))
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': dtype missing or not a string",
                         label, name);
    int d = dtype_from_name(json_string_value(jd));
    if (d < 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': unknown dtype '%s'", label, name,
                         json_string_value(jd));
    t->dtype = (st_dtype)d;

    const json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js))
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': shape missing or not an array",
                         label, name);
    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS)
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': %zu dimensions (at most %d)", label,
                         name, nd, ST_MAX_DIMS);
    t->ndim = (int)nd;
    size_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        const json_t *e = json_array_get(js, i);
        if (!json_is_integer(e))
            return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': shape[%zu] is not an integer",
                             label, name, i);
        json_int_t x = json_integer_value(e);
        if (x < 0)
            return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': shape[%zu] is negative (%lld)",
                             label, name, i, (long long)x);
        t->shape[i] = (int64_t)x;
        if ((unsigned long long)x > SIZE_MAX || __builtin_mul_overflow(numel, (size_t)x, &numel))
            return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': shape product overflows",
                             label, name);
    }
    t->numel = numel;
    if (__builtin_mul_overflow(numel, st_dtype_size(t->dtype), &t->nbytes))
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': byte size overflows", label, name);

    const json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: tensor '%s': data_offsets missing or not an array of two integers", label,
                         name);
    const json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je))
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': data_offsets are not integers",
                         label, name);
    long long b = json_integer_value(jb), e = json_integer_value(je);
    if (b < 0 || e < 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: tensor '%s': negative data_offsets [%lld, %lld]",
                         label, name, b, e);
    if (b > e)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: tensor '%s': data_offsets [%lld, %lld] begin after end", label, name, b, e);
    if ((unsigned long long)e > data_len)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: tensor '%s': data_offsets [%lld, %lld] past end of data section (%zu bytes)",
                         label, name, b, e, data_len);
    if ((size_t)(e - b) != t->nbytes)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: tensor '%s': data_offsets [%lld, %lld] span %lld bytes but %s shape needs %zu",
                         label, name, b, e, e - b, st_dtype_name(t->dtype), t->nbytes);
    t->data = data + b;
    return DEIT_OK;
}

/* Checks that no two non-empty tensors share a byte. Zero-size tensors occupy no bytes, so they
 * may sit anywhere inside the data section. */
static int check_overlaps(const st_file *f, const uint8_t *data, const char *label, char *err,
                          size_t errlen)
{
    if (f->n < 2) return DEIT_OK;
    span *s = malloc(f->n * sizeof *s);
    if (!s) return deit_fail(err, errlen, DEIT_ENOMEM, "%s: out of memory", label);
    for (size_t i = 0; i < f->n; i++) {
        s[i].begin = (size_t)(f->tensors[i].data - data);
        s[i].end = s[i].begin + f->tensors[i].nbytes;
        s[i].name = f->tensors[i].name;
    }
    qsort(s, f->n, sizeof *s, cmp_by_begin);
    int rc = DEIT_OK;
    const span *widest = NULL; /* the non-empty range reaching furthest so far */
    for (size_t i = 0; i < f->n; i++) {
        if (s[i].begin == s[i].end) continue;
        if (widest && s[i].begin < widest->end) {
            rc = deit_fail(err, errlen, DEIT_EINVAL,
                           "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]",
                           label, s[i].name, s[i].begin, s[i].end, widest->name, widest->begin,
                           widest->end);
            break;
        }
        if (!widest || s[i].end > widest->end) widest = &s[i];
    }
    free(s);
    return rc;
}

/* The shared body of st_parse and st_open: builds *out over buf[len]. On failure *out is NULL and
 * nothing is leaked (the caller still owns any mapping). */
static int parse(const uint8_t *buf, size_t len, const char *label, st_file **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (len < 8)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: file is %zu bytes, too short for the 8-byte header length", label, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    /* Compared without adding 8, which could wrap for a hostile length. */
    if (hlen > len - 8)
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: header length %llu past end of file (%zu bytes)", label,
                         (unsigned long long)hlen, len);
    if (hlen > ST_MAX_HEADER_BYTES)
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: header length %llu over the %u-byte limit",
                         label, (unsigned long long)hlen, ST_MAX_HEADER_BYTES);
    const uint8_t *data = buf + 8 + hlen;
    size_t data_len = len - 8 - (size_t)hlen;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: header is not valid JSON (line %d, column %d): %s",
                         label, jerr.line, jerr.column, jerr.text);
    int rc = DEIT_OK;
    st_file *f = calloc(1, sizeof *f);
    if (!f) {
        rc = deit_fail(err, errlen, DEIT_ENOMEM, "%s: out of memory", label);
        goto done;
    }
    if (!json_is_object(root)) {
        rc = deit_fail(err, errlen, DEIT_EINVAL, "%s: header is not a JSON object", label);
        goto done;
    }
    size_t n = json_object_size(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) {
        rc = deit_fail(err, errlen, DEIT_ENOMEM, "%s: out of memory", label);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            rc = parse_metadata(f, val, label, err, errlen);
            if (rc) goto done;
            continue;
        }
        st_tensor *t = &f->tensors[f->n];
        rc = parse_entry(t, key, val, data, data_len, label, err, errlen);
        if (rc) goto done;
        t->name = strdup(key);
        if (!t->name) {
            rc = deit_fail(err, errlen, DEIT_ENOMEM, "%s: out of memory", label);
            goto done;
        }
        f->n++;
    }
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_by_name);
    rc = check_overlaps(f, data, label, err, errlen);
done:
    json_decref(root);
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return DEIT_OK;
}

int st_parse(const uint8_t *buf, size_t len, const char *label, st_file **out, char *err, size_t errlen)
{
    if (!label) label = "(buffer)";
    if (!buf && len) {
        *out = NULL;
        return deit_fail(err, errlen, DEIT_EINVAL, "%s: NULL buffer", label);
    }
    return parse(buf ? buf : (const uint8_t *)"", len, label, out, err, errlen);
}

/* Maps the whole file privately and read-only; the st_file keeps the mapping until st_close.
 * Directories, special files and unreadable paths are DEIT_EIO; an empty file is DEIT_EINVAL
 * like any other file too short to hold a header. O_NONBLOCK: opening a FIFO for reading blocks
 * until a writer appears, so without it a FIFO in place of the weights would hang the loader
 * before fstat could refuse it (mmap ignores the flag on the regular file that remains). */
int st_open(const char *path, st_file **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return deit_fail(err, errlen, DEIT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return deit_fail(err, errlen, DEIT_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return deit_fail(err, errlen, DEIT_EIO, "%s: is a directory, not a safetensors file", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return deit_fail(err, errlen, DEIT_EIO, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return deit_fail(err, errlen, DEIT_EINVAL,
                         "%s: file is %lld bytes, too short for the 8-byte header length", path,
                         (long long)sb.st_size);
    }
    if ((unsigned long long)sb.st_size > SIZE_MAX) {
        close(fd);
        return deit_fail(err, errlen, DEIT_EIO, "%s: file too large to map", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file alive */
    if (map == MAP_FAILED)
        return deit_fail(err, errlen, DEIT_EIO, "%s: cannot map: %s", path, strerror(e));
    int rc = parse(map, len, path, out, err, errlen);
    if (rc) {
        munmap(map, len);
        return rc;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return DEIT_OK;
}

size_t st_count(const st_file *f)
{
    return f ? f->n : 0;
}

const st_tensor *st_at(const st_file *f, size_t i)
{
    return f && i < f->n ? &f->tensors[i] : NULL;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    if (!f || !name || f->n == 0) return NULL;
    st_tensor key = {.name = name};
    return bsearch(&key, f->tensors, f->n, sizeof *f->tensors, cmp_by_name);
}

const char *st_metadata(const st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

/* Little-endian loads byte by byte: the data is unaligned and this stays correct on any host. */
static uint16_t load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64(const uint8_t *p)
{
    return (uint64_t)load_u32(p) | (uint64_t)load_u32(p + 4) << 32;
}

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE half → float, exactly: every half is representable as a float. Subnormal halves are
 * m * 2^-24, which float holds exactly; NaN payloads are kept (shifted into the float mantissa). */
static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (mant << 13));
    return bits_to_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

/* bfloat16 is the upper half of a float32. */
static float bf16_to_f32(uint16_t h)
{
    return bits_to_f32((uint32_t)h << 16);
}

static double u64_to_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Stores element i as float (f32 non-NULL) or double: one conversion loop per dtype serves both. */
static inline void put(float *f32, double *f64, size_t i, double v)
{
    if (f32) f32[i] = (float)v;
    else f64[i] = v;
}

/* Converts a floating-point tensor into exactly one of f32 / f64. Values pass through double, which
 * holds every F16, BF16, F32 and F64 value exactly, so only F64 -> f32 rounds (a signalling NaN may
 * come out quiet: nothing reads NaN bits in weights). */
static int convert(const st_tensor *t, float *f32, double *f64)
{
    const uint8_t *p = t->data;
    size_t n = t->numel;
    switch (t->dtype) {
    case ST_F32:
        for (size_t i = 0; i < n; i++) put(f32, f64, i, bits_to_f32(load_u32(p + 4 * i)));
        return DEIT_OK;
    case ST_F16:
        for (size_t i = 0; i < n; i++) put(f32, f64, i, f16_to_f32(load_u16(p + 2 * i)));
        return DEIT_OK;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) put(f32, f64, i, bf16_to_f32(load_u16(p + 2 * i)));
        return DEIT_OK;
    case ST_F64:
        for (size_t i = 0; i < n; i++) put(f32, f64, i, u64_to_f64(load_u64(p + 8 * i)));
        return DEIT_OK;
    default:
        return DEIT_EUNSUPPORTED;
    }
}

int st_to_f32(const st_tensor *t, float *dst)
{
    return convert(t, dst, NULL);
}

int st_to_f64(const st_tensor *t, double *dst)
{
    return convert(t, NULL, dst);
}
