/* test_safetensors.c — safetensors reader: valid files, hostile headers, file errors, conversions. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "safetensors.h"

/* Assembles u64 header length + header[hlen] + data[dlen] into a malloc'd buffer. hlen may be
 * given explicitly so headers can contain NUL or invalid UTF-8 bytes. */
static uint8_t *mk(const char *header, size_t hlen, const void *data, size_t dlen, size_t *len)
{
    *len = 8 + hlen + dlen;
    uint8_t *b = malloc(*len);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, header, hlen);
    if (dlen) memcpy(b + 8 + hlen, data, dlen);
    return b;
}

/* Parses `header` over `dlen` zero bytes of data and checks the status and that the message
 * contains `want` (when non-NULL). */
static void expect(const char *header, size_t dlen, int status, const char *want, int line)
{
    uint8_t zeros[256] = {0};
    size_t len;
    uint8_t *b = mk(header, strlen(header), zeros, dlen, &len);
    st_file *f = (st_file *)1;
    char err[512] = "";
    int rc = st_parse(b, len, "t.safetensors", &f, err, sizeof err);
    CHECK_MSG(rc == status, "line %d: status %d, expected %d (%s)", line, rc, status, err);
    CHECK_MSG(f == NULL || rc == DEIT_OK, "line %d: *out not NULL on failure", line);
    if (want) CHECK_MSG(strstr(err, want) != NULL, "line %d: message \"%s\" lacks \"%s\"", line, err, want);
    if (rc == DEIT_OK) CHECK_MSG(err[0] == '\0', "line %d: message on success", line);
    st_close(rc == DEIT_OK ? f : NULL);
    free(b);
}
#define EXPECT(h, dlen, st, want) expect((h), (dlen), (st), (want), __LINE__)

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_f32(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); put_u32(p, u); }
static void put_f64(uint8_t *p, double d) { uint64_t u; memcpy(&u, &d, 8); put_u64(p, u); }

static const char valid_header[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"b.half\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]},"
    "\"a.float\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
    "\"c.bf16\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[24,30]},"
    "\"d.f64\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[30,46]},"
    "\"e.scalar\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[46,54]},"
    "\"f.empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[54,54]}}"
    " "; /* odd total length: the data section starts unaligned */

static void fill_valid_data(uint8_t *d)
{
    static const uint16_t half[8] = {0x3C00, 0x0001, 0x7C00, 0x8000, 0x7BFF, 0x0400, 0x03FF, 0xC000};
    for (int i = 0; i < 8; i++) put_u16(d + 2 * i, half[i]);
    put_f32(d + 16, 1.5f);
    put_f32(d + 20, -2.25f);
    put_u16(d + 24, 0x3F80);
    put_u16(d + 26, 0xC000);
    put_u16(d + 28, 0x7FC0);
    put_f64(d + 30, 0.1);
    put_f64(d + 38, -1e300);
    put_u64(d + 46, 42);
}

static void test_valid(void)
{
    uint8_t data[54];
    fill_valid_data(data);
    size_t len;
    uint8_t *b = mk(valid_header, strlen(valid_header), data, sizeof data, &len);
    CHECK((8 + strlen(valid_header)) % 2 == 1);
    st_file *f = NULL;
    char err[256] = "";
    CHECK_INT_EQ(st_parse(b, len, "v", &f, err, sizeof err), DEIT_OK);
    if (!f) { free(b); return; }
    CHECK_INT_EQ(st_count(f), 6);
    CHECK_STR_EQ(st_metadata(f, "format"), "pt");
    CHECK(st_metadata(f, "missing") == NULL);
    CHECK(st_find(f, "__metadata__") == NULL);
    CHECK(st_find(f, "nope") == NULL);
    CHECK(st_at(f, 6) == NULL);
    /* st_at is in name order */
    CHECK_STR_EQ(st_at(f, 0)->name, "a.float");
    CHECK_STR_EQ(st_at(f, 5)->name, "f.empty");
    for (size_t i = 0; i < st_count(f); i++) CHECK(st_find(f, st_at(f, i)->name) == st_at(f, i));

    const st_tensor *t = st_find(f, "b.half");
    CHECK(t && t->dtype == ST_F16 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 4);
    CHECK(t && t->numel == 8 && t->nbytes == 16 && t->data == b + 8 + strlen(valid_header));
    float h[8];
    double hd[8];
    CHECK_INT_EQ(st_to_f32(t, h), DEIT_OK);
    CHECK_INT_EQ(st_to_f64(t, hd), DEIT_OK);
    CHECK(h[0] == 1.0f);
    CHECK(h[1] == 0x1p-24f);        /* smallest subnormal */
    CHECK(isinf(h[2]) && h[2] > 0);
    CHECK(h[3] == 0.0f && signbit(h[3]));
    CHECK(h[4] == 65504.0f);        /* largest finite half */
    CHECK(h[5] == 0x1p-14f);        /* smallest normal */
    CHECK(h[6] == 1023 * 0x1p-24f); /* largest subnormal */
    CHECK(h[7] == -2.0f);
    CHECK(hd[1] == ldexp(1.0, -24) && hd[6] == 1023 * ldexp(1.0, -24));

    t = st_find(f, "a.float");
    float a[2];
    CHECK(t && st_to_f32(t, a) == DEIT_OK && a[0] == 1.5f && a[1] == -2.25f);
    t = st_find(f, "c.bf16");
    float c[3];
    CHECK(t && st_to_f32(t, c) == DEIT_OK && c[0] == 1.0f && c[1] == -2.0f && isnan(c[2]));
    t = st_find(f, "d.f64");
    float d[2];
    double dd[2];
    CHECK(t && st_to_f32(t, d) == DEIT_OK && d[0] == (float)0.1 && isinf(d[1]) && d[1] < 0);
    CHECK(t && st_to_f64(t, dd) == DEIT_OK && dd[0] == 0.1 && dd[1] == -1e300);
    t = st_find(f, "e.scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && t->nbytes == 8 && t->dtype == ST_I64);
    CHECK(t && st_to_f32(t, d) == DEIT_EUNSUPPORTED && st_to_f64(t, dd) == DEIT_EUNSUPPORTED);
    t = st_find(f, "f.empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0 && st_to_f32(t, NULL) == DEIT_OK);
    st_close(f);
    free(b);

    /* A buffer that is only a header with an empty object, and a header padded with spaces. */
    EXPECT("{}", 0, DEIT_OK, NULL);
    EXPECT("{\"x\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}        ", 4, DEIT_OK, NULL);
    /* Range ending exactly at the end of the data section; unknown extra entry fields ignored. */
    EXPECT("{\"x\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6],\"extra\":1}}", 6, DEIT_OK, NULL);
    /* Zero-size tensors occupy no bytes, so they overlap nothing. */
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"y\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, DEIT_OK, NULL);
}

static void test_dtypes(void)
{
    CHECK_INT_EQ(st_dtype_size(ST_F16), 2);
    CHECK_INT_EQ(st_dtype_size(ST_BF16), 2);
    CHECK_INT_EQ(st_dtype_size(ST_F32), 4);
    CHECK_INT_EQ(st_dtype_size(ST_F64), 8);
    CHECK_INT_EQ(st_dtype_size(ST_BOOL), 1);
    CHECK_INT_EQ(st_dtype_size(ST_F8_E5M2), 1);
    CHECK_INT_EQ(st_dtype_size((st_dtype)99), 0);
    CHECK_STR_EQ(st_dtype_name(ST_BF16), "BF16");
    CHECK_STR_EQ(st_dtype_name(ST_F8_E4M3), "F8_E4M3");
    CHECK_STR_EQ(st_dtype_name((st_dtype)99), "?");
}

/* Every one of the 65536 F16 bit patterns must convert to exactly (-1)^s * 2^(e-15) * (1 + m/1024),
 * or (-1)^s * 2^-14 * m/1024 for subnormals, with infinities and NaNs kept. */
static void test_f16_exhaustive(void)
{
    uint8_t buf[2 * 65536];
    for (uint32_t i = 0; i < 65536; i++) put_u16(buf + 2 * i, (uint16_t)i);
    st_tensor t = {.name = "all", .dtype = ST_F16, .ndim = 1, .shape = {65536}, .numel = 65536,
                   .nbytes = sizeof buf, .data = buf};
    float *out = malloc(65536 * sizeof *out);
    CHECK_INT_EQ(st_to_f32(&t, out), DEIT_OK);
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        int s = i >> 15, e = (i >> 10) & 31, m = i & 1023;
        double want;
        if (e == 31) {
            if (m ? !isnan(out[i]) : !(isinf(out[i]) && (out[i] < 0) == s)) bad++;
            continue;
        }
        want = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
        if (s) want = -want;
        if ((double)out[i] != want || (signbit(out[i]) != 0) != s) bad++;
    }
    CHECK_INT_EQ(bad, 0);
    free(out);
}

static void test_hostile(void)
{
    char err[512];
    st_file *f = (st_file *)1;
    /* Too short to hold the length. */
    CHECK_INT_EQ(st_parse((const uint8_t *)"", 0, "t", &f, err, sizeof err), DEIT_EINVAL);
    CHECK(f == NULL && strstr(err, "too short"));
    CHECK_INT_EQ(st_parse((const uint8_t *)"\x02\0\0\0\0\0\0", 7, "t", &f, err, sizeof err), DEIT_EINVAL);
    /* Header length past the end of the file (header cut short). */
    size_t len;
    uint8_t *b = mk("{\"a\":{}}", 8, NULL, 0, &len);
    CHECK_INT_EQ(st_parse(b, len - 1, "cut.safetensors", &f, err, sizeof err), DEIT_EINVAL);
    CHECK(strstr(err, "cut.safetensors: header length 8 past end of file (15 bytes)") != NULL);
    free(b);
    /* Header length u64 max: must not wrap when adding 8. */
    uint8_t huge[16];
    memset(huge, 0xff, 8);
    memcpy(huge + 8, "{}      ", 8);
    CHECK_INT_EQ(st_parse(huge, sizeof huge, "t", &f, err, sizeof err), DEIT_EINVAL);
    CHECK(strstr(err, "18446744073709551615") != NULL);
    put_u64(huge, (uint64_t)1 << 63);
    CHECK_INT_EQ(st_parse(huge, sizeof huge, "t", &f, err, sizeof err), DEIT_EINVAL);

    EXPECT("", 0, DEIT_EINVAL, "not valid JSON");
    EXPECT("{", 0, DEIT_EINVAL, "not valid JSON");
    EXPECT("{}x", 0, DEIT_EINVAL, "not valid JSON");
    EXPECT("[1,2]", 0, DEIT_EINVAL, "not a JSON object");
    EXPECT("\"str\"", 0, DEIT_EINVAL, NULL);
    EXPECT("{\"\xff\xfe\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, DEIT_EINVAL, "JSON");
    EXPECT("{\"a\":{\"dtype\":\"U8\\u0000\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, DEIT_EINVAL, "JSON");
    {   /* A raw NUL inside the header. */
        static const char h[] = "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}\0}";
        uint8_t *nb = mk(h, sizeof h - 1, NULL, 0, &len);
        CHECK_INT_EQ(st_parse(nb, len, "t", &f, err, sizeof err), DEIT_EINVAL);
        free(nb);
    }
    EXPECT("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
           "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, DEIT_EINVAL, "duplicate");

    EXPECT("{\"w.x\":[1]}", 0, DEIT_EINVAL, "tensor 'w.x': entry is not an object");
    EXPECT("{\"w.x\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, DEIT_EINVAL,
           "t.safetensors: tensor 'w.x': unknown dtype 'F128'");
    EXPECT("{\"w.x\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL,
           "unknown dtype 'f32'");
    EXPECT("{\"w.x\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL, "tensor 'w.x': dtype");
    EXPECT("{\"w.x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL, "tensor 'w.x': dtype");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL,
           "tensor 'w.x': shape missing or not an array");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL, "tensor 'w.x': shape");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL,
           "tensor 'w.x': shape[0] is negative (-1)");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL,
           "tensor 'w.x': shape[0] is not an integer");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}}", 8, DEIT_EINVAL,
           "tensor 'w.x': shape[1] is not an integer");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL,
           "shape[0] is not an integer");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[100000000000000000000000],\"data_offsets\":[0,4]}}", 4,
           DEIT_EINVAL, "JSON");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, DEIT_EINVAL,
           "tensor 'w.x': 9 dimensions");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,2],\"data_offsets\":[0,4]}}", 4,
           DEIT_EINVAL, "tensor 'w.x': shape product overflows");
    EXPECT("{\"w.x\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
           DEIT_EINVAL, "tensor 'w.x': byte size overflows");
    /* A zero dimension makes the product 0 even next to huge ones; that is fine. */
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[0,9223372036854775807],\"data_offsets\":[0,0]}}", 0,
           DEIT_OK, NULL);

    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, DEIT_EINVAL, "tensor 'w.x': data_offsets");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1, DEIT_EINVAL,
           "tensor 'w.x': data_offsets");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 2, DEIT_EINVAL,
           "tensor 'w.x': data_offsets");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{\"0\":1}}}", 2, DEIT_EINVAL,
           "tensor 'w.x': data_offsets");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0.0,1]}}", 1, DEIT_EINVAL,
           "tensor 'w.x': data_offsets are not integers");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 1, DEIT_EINVAL,
           "tensor 'w.x': negative data_offsets");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[3,2]}}", 4, DEIT_EINVAL,
           "tensor 'w.x': data_offsets [3, 2] begin after end");
    EXPECT("{\"blocks.0.attn.qkv.weight\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[10,20]}}", 12,
           DEIT_EINVAL,
           "t.safetensors: tensor 'blocks.0.attn.qkv.weight': data_offsets [10, 20] past end of data "
           "section (12 bytes)");
    EXPECT("{\"w.x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775807,"
           "9223372036854775807]}}", 4, DEIT_EINVAL, "past end of data section");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, DEIT_EINVAL,
           "tensor 'w.x': data_offsets [0, 4] span 4 bytes but F32 shape needs 8");
    EXPECT("{\"w.x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 8, DEIT_EINVAL,
           "tensor 'w.x'");
    EXPECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, DEIT_EINVAL,
           "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    /* One range nested inside another, after an unrelated tensor that sorts first. */
    EXPECT("{\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[20,22]},"
           "\"big\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"s1\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
           "\"s2\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]}}", 22, DEIT_EINVAL,
           "overlap tensor 'big'");
    /* Identical ranges. */
    EXPECT("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
           "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, DEIT_EINVAL, "overlap");

    EXPECT("{\"__metadata__\":{\"format\":1}}", 0, DEIT_EINVAL, "__metadata__ 'format': value is not a string");
    EXPECT("{\"__metadata__\":[\"pt\"]}", 0, DEIT_EINVAL, "__metadata__ is not an object");
    EXPECT("{\"__metadata__\":{\"a\":\"x\",\"b\":null}}", 0, DEIT_EINVAL, "'b'");
    EXPECT("{\"__metadata__\":{}}", 0, DEIT_OK, NULL);
}

/* Writes len bytes to a fresh temporary file; returns its path in `path` (caller unlinks). */
static int write_temp(char *path, const void *data, size_t len)
{
    strcpy(path, "/tmp/test_st_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    int ok = write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

static void test_open(void)
{
    char err[512];
    st_file *f = (st_file *)1;
    CHECK_INT_EQ(st_open("/nonexistent/dir/model.safetensors", &f, err, sizeof err), DEIT_EIO);
    CHECK(f == NULL && strstr(err, "/nonexistent/dir/model.safetensors") && strstr(err, "cannot open"));
    CHECK_INT_EQ(st_open("/tmp", &f, err, sizeof err), DEIT_EIO);
    CHECK(f == NULL && strstr(err, "directory"));

    char path[64];
    CHECK(write_temp(path, "", 0) == 0);
    CHECK_INT_EQ(st_open(path, &f, err, sizeof err), DEIT_EINVAL);
    CHECK(f == NULL && strstr(err, path) && strstr(err, "0 bytes"));
    unlink(path);

    uint8_t data[54];
    fill_valid_data(data);
    size_t len;
    uint8_t *b = mk(valid_header, strlen(valid_header), data, sizeof data, &len);
    CHECK(write_temp(path, b, len) == 0);
    CHECK_INT_EQ(st_open(path, &f, err, sizeof err), DEIT_OK);
    if (f) {
        float a[2];
        const st_tensor *t = st_find(f, "a.float");
        CHECK(t && st_to_f32(t, a) == DEIT_OK && a[0] == 1.5f && a[1] == -2.25f);
        CHECK_STR_EQ(st_metadata(f, "format"), "pt");
        st_close(f);
    }
    unlink(path);
    /* The same file cut inside its data section: offsets now run past the end. */
    CHECK(write_temp(path, b, len - 3) == 0);
    CHECK_INT_EQ(st_open(path, &f, err, sizeof err), DEIT_EINVAL);
    CHECK(f == NULL && strstr(err, path) && strstr(err, "past end of data section"));
    unlink(path);
    free(b);

    /* A FIFO with no writer in place of the file: refused at once, not waited on (the alarm turns
     * a hang into a failed run). */
    char dir[] = "/tmp/test_st_fifo_XXXXXX", fifo[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(fifo, sizeof fifo, "%s/model.safetensors", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    alarm(10);
    CHECK_INT_EQ(st_open(fifo, &f, err, sizeof err), DEIT_EIO);
    alarm(0);
    CHECK(f == NULL && strstr(err, fifo) && strstr(err, "not a regular file"));
    unlink(fifo);
    rmdir(dir);

    /* An unreadable file (meaningless as root, who may read anything). */
    if (geteuid() != 0) {
        CHECK(write_temp(path, "12345678", 8) == 0);
        chmod(path, 0);
        CHECK_INT_EQ(st_open(path, &f, err, sizeof err), DEIT_EIO);
        unlink(path);
    }
    st_close(NULL);
}

/* Names from a hostile file reach messages with their control bytes escaped, so they cannot start
 * a log line or drive a terminal; the escaping keeps within the caller's buffer. */
static void test_messages_escaped(void)
{
    EXPECT("{\"a\\u001b[2J\\nb\":{\"dtype\":\"F128\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, DEIT_EINVAL,
           "tensor 'a\\x1b[2J\\x0ab': unknown dtype 'F128'");
    char err[512];
    CHECK_INT_EQ(deit_fail(err, sizeof err, DEIT_EINVAL, "x%cy%cz", '\r', 0x7f), DEIT_EINVAL);
    CHECK_STR_EQ(err, "x\\x0dy\\x7fz");
    CHECK_INT_EQ(deit_fail(err, sizeof err, DEIT_EINVAL, "caf\xc3\xa9 \"q\" \\"), DEIT_EINVAL);
    CHECK_STR_EQ(err, "caf\xc3\xa9 \"q\" \\"); /* UTF-8, quotes, backslashes: as they are */
    char small[6];
    deit_fail(small, sizeof small, DEIT_EINVAL, "ab\ncd");
    CHECK_STR_EQ(small, "ab\\x0"); /* truncated at the buffer, still terminated */
    deit_fail(small, 1, DEIT_EINVAL, "\n");
    CHECK_STR_EQ(small, "");
}

/* A real checkpoint: the reduced timm fixture maps and every tensor is findable. */
static void test_fixture(void)
{
    char err[512];
    st_file *f = NULL;
    CHECK_INT_EQ(st_open("tests/fixtures/models/timm-deit-reduced/model.safetensors", &f, err, sizeof err),
                 DEIT_OK);
    if (!f) return;
    CHECK_INT_EQ(st_count(f), 47); /* 48 header entries, one of them __metadata__ */
    const st_tensor *t = st_find(f, "pos_embed");
    CHECK(t && t->ndim == 3 && t->shape[1] == 198 && t->shape[2] == 64 && t->nbytes == 198 * 64 * 4);
    t = st_find(f, "patch_embed.proj.weight");
    CHECK(t && t->ndim == 4 && t->numel == 64 * 3 * 16 * 16);
    st_close(f);
}

int main(void)
{
    test_valid();
    test_dtypes();
    test_f16_exhaustive();
    test_hostile();
    test_open();
    test_messages_escaped();
    test_fixture();
    return check_summary("test_safetensors");
}
