/* test_multipart.c — multipart/form-data splitting and Content-Type helpers, including hostile bodies. */
#include <stdint.h>

#include "../check.h"
#include "multipart.h"

static const mp_limits LIM = {16, 1024, 1 << 20};

static int parse(const char *body, size_t len, const char *b, mp_part *parts, size_t cap, size_t *n)
{
    char err[256];
    return mp_parse((const uint8_t *)body, len, b, strlen(b), &LIM, parts, cap, n, err, sizeof err);
}

static int span_eq(const char *p, size_t n, const char *lit)
{
    return p && strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static void test_media_types(void)
{
    const char *ct = "Multipart/Form-Data ; boundary=abc";
    CHECK(mp_media_type_is(ct, strlen(ct), "multipart/form-data"));
    CHECK(!mp_media_type_is(ct, strlen(ct), "multipart/mixed"));
    CHECK(mp_media_type_is("image/png", 9, "image/"));
    CHECK(!mp_media_type_is("image/", 6, "image/"));
    CHECK(!mp_media_type_is("imagex/png", 10, "image/"));
    CHECK(!mp_media_type_is(NULL, 0, "image/"));
    CHECK(mp_media_type_is("  application/json  ", 20, "application/json"));
    /* bounded by the length: the NUL-less prefix "image/pn" of a longer buffer */
    CHECK(!mp_media_type_is("application/jsonx", 16, "application/jsonx"));
}

static void test_boundary(void)
{
    char b[MP_MAX_BOUNDARY + 1];
    size_t bl = 0;
    const char *ct = "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct), b, &bl), MP_OK);
    CHECK_STR_EQ(b, "----WebKitFormBoundary7MA4YWxkTrZu0gW");
    ct = "multipart/form-data; charset=utf-8; BOUNDARY=\"a b;c\"";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct), b, &bl), MP_OK);
    CHECK_STR_EQ(b, "a b;c");
    CHECK_INT_EQ(bl, 5);
    ct = "multipart/form-data";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct), b, &bl), MP_EINVAL);
    ct = "multipart/form-data; boundary=";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct), b, &bl), MP_EINVAL);
    ct = "multipart/form-data; boundary=\"unterminated";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct), b, &bl), MP_EINVAL);
    ct = "multipart/form-data; boundary=\"\"";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct), b, &bl), MP_EINVAL);
    char longb[200];
    snprintf(longb, sizeof longb, "multipart/form-data; boundary=%071d", 0);
    CHECK_INT_EQ(mp_boundary(longb, strlen(longb), b, &bl), MP_EINVAL);
    snprintf(longb, sizeof longb, "multipart/form-data; boundary=%070d", 0);
    CHECK_INT_EQ(mp_boundary(longb, strlen(longb), b, &bl), MP_OK);
    CHECK_INT_EQ(bl, 70);
    /* the length bounds the read: the boundary is cut where len ends */
    ct = "multipart/form-data; boundary=abcdef";
    CHECK_INT_EQ(mp_boundary(ct, strlen(ct) - 3, b, &bl), MP_OK);
    CHECK_STR_EQ(b, "abc");
}

static void test_two_files(void)
{
    const char body[] =
        "preamble\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
        "Content-Type: image/png\r\n"
        "\r\n"
        "\x89PNG\r\n\x00\x01--X\r\n"
        "--XyZ\r\n"
        "content-disposition: form-data; name=image; filename=\"b;\\\"q.jpg\"\r\n"
        "\r\n"
        "JPEGDATA\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"note\"\r\n"
        "\r\n"
        "hello\r\n"
        "--XyZ--\r\n"
        "epilogue";
    mp_part parts[8];
    size_t n = 0;
    CHECK_INT_EQ(parse(body, sizeof body - 1, "XyZ", parts, 8, &n), MP_OK);
    CHECK_INT_EQ(n, 3);
    CHECK_INT_EQ(parts[0].len, 11);
    CHECK(memcmp(parts[0].data, "\x89PNG\r\n\x00\x01--X", 11) == 0);
    CHECK(span_eq(parts[0].name, parts[0].name_len, "image"));
    CHECK(span_eq(parts[0].filename, parts[0].filename_len, "a.png"));
    CHECK(span_eq(parts[0].content_type, parts[0].content_type_len, "image/png"));
    CHECK(span_eq(parts[1].filename, parts[1].filename_len, "b;\\\"q.jpg"));
    CHECK(span_eq(parts[1].name, parts[1].name_len, "image"));
    CHECK(parts[1].content_type == NULL);
    CHECK_INT_EQ(parts[1].len, 8);
    CHECK(parts[2].filename == NULL);
    CHECK(span_eq((const char *)parts[2].data, parts[2].len, "hello"));
}

/* Browsers and urllib3 (Python's requests) write file names by the WHATWG form-data rule: '"' as
 * %22 and a backslash as it is, so a name ending in one ends its quoted value in `\"`; curl escapes
 * '"' and '\' with a backslash (RFC 9110's quoted-pair). Both must parse, and the field name with
 * them, whichever parameter comes first. */
static void test_file_name_escapes(void)
{
    static const struct {
        const char *disposition, *name, *filename;
    } cases[] = {
        {"form-data; name=\"image\"; filename=\"shirt\\\"", "image", "shirt\\"},   /* browser, urllib3 */
        {"form-data; filename=\"shirt\\\"; name=\"image\"", "image", "shirt\\"},   /* the same, name last */
        {"form-data; name=\"data\"; filename=\"C:\\dir\\x.png\"", "data", "C:\\dir\\x.png"},
        {"form-data; name=\"image\"; filename=\"a\\\"b.png\"", "image", "a\\\"b.png"}, /* curl's a"b.png */
        {"form-data; name=\"image\"; filename=\"a%22b.png\"", "image", "a%22b.png"},   /* a browser's a"b.png */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char body[256];
        int n = snprintf(body, sizeof body, "--b\r\nContent-Disposition: %s\r\n\r\nDATA\r\n--b--\r\n",
                         cases[k].disposition);
        mp_part parts[2];
        size_t np = 0;
        int rc = parse(body, (size_t)n, "b", parts, 2, &np);
        CHECK_MSG(rc == MP_OK && np == 1, "case %zu (%s): %d", k, cases[k].disposition, rc);
        if (rc != MP_OK || np != 1) continue;
        CHECK_MSG(span_eq(parts[0].name, parts[0].name_len, cases[k].name), "case %zu: name", k);
        CHECK_MSG(span_eq(parts[0].filename, parts[0].filename_len, cases[k].filename), "case %zu: filename", k);
        CHECK(span_eq((const char *)parts[0].data, parts[0].len, "DATA"));
    }
}

static void test_starts_without_preamble_and_empty_part(void)
{
    const char body[] = "--b\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\r\n--b--";
    mp_part parts[4];
    size_t n = 0;
    CHECK_INT_EQ(parse(body, sizeof body - 1, "b", parts, 4, &n), MP_OK);
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(parts[0].len, 0);
    CHECK_INT_EQ(parts[1].len, 0);
}

static void test_malformed(void)
{
    mp_part parts[4];
    size_t n;
    const char *cases[] = {
        "",                                                     /* empty */
        "x",                                                    /* one byte */
        "no boundary at all",
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata",   /* no closing delimiter */
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata\r\n--b", /* cut after delimiter */
        "--b\r\nContent-Disposition: form-data; name=a\r\n",           /* header block never ends */
        "--b\r\nNoColonHere\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
        "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
        "--bX\r\n\r\nx\r\n--b--",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        n = 99;
        int rc = parse(cases[i], strlen(cases[i]), "b", parts, 4, &n);
        CHECK_MSG(rc == MP_EINVAL, "case %zu gave %d", i, rc);
    }
    /* truncation at every length of a valid body is an error, never a crash or over-read */
    const char good[] = "--b\r\nContent-Disposition: form-data; name=a; filename=f\r\n\r\nDATA\r\n--b--\r\n";
    size_t L = sizeof good - 1;
    int all_err = 1;
    for (size_t cut = 0; cut < L - 2; cut++) {
        char *copy = malloc(cut ? cut : 1); /* exact-size heap copy: ASan catches any over-read */
        memcpy(copy, good, cut);
        if (parse(copy, cut, "b", parts, 4, &n) == MP_OK) all_err = 0;
        free(copy);
    }
    CHECK(all_err);
    CHECK_INT_EQ(parse(good, L, "b", parts, 4, &n), MP_OK);
}

static void test_limits(void)
{
    /* 1000 parts: refused at the 17th */
    size_t cap = 1000 * 64 + 16;
    char *body = malloc(cap);
    size_t len = 0;
    for (int i = 0; i < 1000; i++)
        len += (size_t)snprintf(body + len, cap - len, "--b\r\nContent-Disposition: form-data; name=f%d\r\n\r\nx\r\n", i);
    len += (size_t)snprintf(body + len, cap - len, "--b--\r\n");
    mp_part parts[16];
    size_t n = 0;
    char err[128];
    int rc = mp_parse((const uint8_t *)body, len, "b", 1, &LIM, parts, 16, &n, err, sizeof err);
    CHECK_INT_EQ(rc, MP_ETOOMANY);
    CHECK(strstr(err, "16") != NULL);
    CHECK_INT_EQ(n, 16);
    free(body);

    /* a part over max_part_bytes */
    mp_limits small = {4, 1024, 3};
    const char big[] = "--b\r\n\r\nABCD\r\n--b--";
    rc = mp_parse((const uint8_t *)big, sizeof big - 1, "b", 1, &small, parts, 4, &n, err, sizeof err);
    CHECK_INT_EQ(rc, MP_ETOOBIG);

    /* a part header block over max_header_bytes */
    mp_limits tiny_hdr = {4, 16, 1024};
    const char hdr[] = "--b\r\nContent-Disposition: form-data; name=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\r\n\r\nx\r\n--b--";
    rc = mp_parse((const uint8_t *)hdr, sizeof hdr - 1, "b", 1, &tiny_hdr, parts, 4, &n, err, sizeof err);
    CHECK_INT_EQ(rc, MP_EINVAL);
    CHECK(strstr(err, "too long") != NULL);
}

int main(void)
{
    test_media_types();
    test_boundary();
    test_two_files();
    test_file_name_escapes();
    test_starts_without_preamble_and_empty_part();
    test_malformed();
    test_limits();
    return check_summary("test_multipart");
}
