/* test_v2.c — KServe v2 infer request parsing (JSON/base64 and binary extension), base64, and the
 * v2 / TorchServe / error response bodies. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../check.h"
#include "response.h"
#include "v2.h"
#include "v2_outputs.h"

static int parse_json(const char *s, size_t max_images, v2_request *r, char *err)
{
    return v2_parse_request((const uint8_t *)s, strlen(s), -1, max_images, r, err, 256);
}

static void test_base64(void)
{
    uint8_t out[16];
    CHECK_INT_EQ(v2_base64_decode("aGVsbG8=", 8, out), 5);
    CHECK(memcmp(out, "hello", 5) == 0);
    CHECK_INT_EQ(v2_base64_decode("aGVsbG8", 7, out), 5); /* padding optional */
    CHECK_INT_EQ(v2_base64_decode("aGk=", 4, out), 2);
    CHECK_INT_EQ(v2_base64_decode("", 0, out), 0);
    CHECK_INT_EQ(v2_base64_decode("a", 1, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aGk*", 4, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aG=k", 4, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aGVsbG8==", 9, out), -1);
    CHECK_INT_EQ(v2_base64_decode("/+8=", 4, out), 2);
    CHECK(out[0] == 0xff && out[1] == 0xef);
    /* MIME line breaks (base64 without -w0, Python's encodebytes) and spaces are skipped */
    CHECK_INT_EQ(v2_base64_decode("aGVs\nbG8=\n", 10, out), 5);
    CHECK(memcmp(out, "hello", 5) == 0);
    CHECK_INT_EQ(v2_base64_decode("aG Vs\r\nbG8\t=", 12, out), 5);
    CHECK(memcmp(out, "hello", 5) == 0);
    CHECK_INT_EQ(v2_base64_decode(" \n", 2, out), 0);
    /* the URL-safe alphabet decodes as the standard one */
    CHECK_INT_EQ(v2_base64_decode("_-8", 3, out), 2);
    CHECK(out[0] == 0xff && out[1] == 0xef);
    CHECK_INT_EQ(v2_base64_decode("/+8", 3, out), 2);
    CHECK(out[0] == 0xff && out[1] == 0xef);
    /* still refused: other characters, data after the padding, padding not completing a group,
     * three '=', a lone symbol hidden among whitespace */
    CHECK_INT_EQ(v2_base64_decode("aGVs.bG8=", 9, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aGk=aGk=", 8, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aGk==", 5, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aG===", 5, out), -1);
    CHECK_INT_EQ(v2_base64_decode("aGVs\nb", 6, out), -1);
}

static void test_json_request(void)
{
    char err[256];
    v2_request r;
    const char *ok = "{\"id\":\"req-1\",\"inputs\":[{\"name\":\"image\",\"shape\":[2],\"datatype\":\"BYTES\","
                     "\"data\":[\"aGVsbG8=\",\"d29ybGQh\"]}],"
                     "\"outputs\":[{\"name\":\"fused_probs\",\"parameters\":{\"classification\":3}},"
                     "{\"name\":\"class_probs\"}]}";
    CHECK_INT_EQ(parse_json(ok, 8, &r, err), V2_OK);
    CHECK_STR_EQ(r.id, "req-1");
    CHECK_STR_EQ(r.input_name, "image");
    CHECK_INT_EQ(r.n_images, 2);
    CHECK(r.images[0].len == 5 && memcmp(r.images[0].data, "hello", 5) == 0);
    CHECK(r.images[1].len == 6 && memcmp(r.images[1].data, "world!", 6) == 0);
    CHECK_INT_EQ(r.n_outputs, 2);
    CHECK_INT_EQ(r.outputs[0].kind, V2_OUT_FUSED);
    CHECK_INT_EQ(r.outputs[0].classification, 3);
    CHECK_INT_EQ(r.outputs[1].kind, V2_OUT_CLASS);
    CHECK_INT_EQ(r.outputs[1].classification, 0);
    v2_request_free(&r);

    /* nested data, [2,1] shape, no outputs: all three probability outputs */
    const char *nested = "{\"inputs\":[{\"name\":\"x\",\"shape\":[2,1],\"datatype\":\"BYTES\","
                         "\"parameters\":{\"content_type\":\"base64\"},\"data\":[[\"aGk=\"],[\"aGk=\"]]}]}";
    CHECK_INT_EQ(parse_json(nested, 8, &r, err), V2_OK);
    CHECK(r.id == NULL);
    CHECK_INT_EQ(r.n_images, 2);
    CHECK_INT_EQ(r.n_outputs, 3);
    v2_request_free(&r);

    struct { const char *json; int rc; const char *needle; } bad[] = {
        {"", V2_EINVAL, "invalid JSON"},
        {"{", V2_EINVAL, "invalid JSON"},
        {"[]", V2_EINVAL, "JSON object"},
        {"{\"inputs\":[]}", V2_EINVAL, "exactly one"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1.0]}]}", V2_EINVAL, "BYTES"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}]}", V2_EINVAL, "exactly 2"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\",\"aGk=\"]}]}", V2_EINVAL, "more strings"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"!!!\"]}]}", V2_EINVAL, "base64"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[-1],\"datatype\":\"BYTES\",\"data\":[]}]}", V2_EINVAL, "non-negative"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[0],\"datatype\":\"BYTES\",\"data\":[]}]}", V2_EINVAL, "no images"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1000],\"datatype\":\"BYTES\",\"data\":[]}]}", V2_ETOOMANY, "too many"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[4294967296,1],\"datatype\":\"BYTES\",\"data\":[]}]}", V2_ETOOMANY, "too many"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[[[[[[[[[[[\"aGk=\"]]]]]]]]]]]}]}",
         V2_EINVAL, "nested more than 8"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[[\"aGk=\"],[\"aGk=\"]]}]}",
         V2_EINVAL, "more strings"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[2,2],\"datatype\":\"BYTES\",\"data\":[]}]}", V2_EINVAL, "[N] or [N, 1]"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1,1,1],\"datatype\":\"BYTES\",\"data\":[]}]}", V2_EINVAL, "[N] or [N, 1]"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}],"
         "\"outputs\":[{\"name\":\"logits\"}]}", V2_EINVAL, "unknown output"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}],"
         "\"outputs\":[{\"name\":\"fused_probs\",\"parameters\":{\"classification\":0}}]}", V2_EINVAL, "classification"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}],"
         "\"outputs\":[{\"name\":\"fused_probs\"},{\"name\":\"fused_probs\"}]}", V2_EINVAL, "twice"},
        {"{\"id\":5,\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}]}", V2_EINVAL, "id"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":4}}]}",
         V2_EINVAL, "Inference-Header-Content-Length"},
        {"{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":{\"content_type\":\"str\"},"
         "\"data\":[\"aGk=\"]}]}", V2_EINVAL, "base64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        int rc = parse_json(bad[i].json, 8, &r, err);
        CHECK_MSG(rc == bad[i].rc, "case %zu: rc %d (%s)", i, rc, err);
        CHECK_MSG(strstr(err, bad[i].needle) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].needle);
        CHECK(r.images == NULL && r.id == NULL); /* left empty on failure */
    }
}

/* Builds header + binary body: elements given as (ptr, len) pairs. */
static size_t make_binary(uint8_t *out, const char *hdr_fmt, const char *const *els, int n, size_t *hl)
{
    uint8_t bin[256];
    size_t bl = 0;
    for (int i = 0; i < n; i++) {
        uint32_t l = (uint32_t)strlen(els[i]);
        bin[bl++] = (uint8_t)l; bin[bl++] = (uint8_t)(l >> 8); bin[bl++] = (uint8_t)(l >> 16); bin[bl++] = (uint8_t)(l >> 24);
        memcpy(bin + bl, els[i], l);
        bl += l;
    }
    int w = snprintf((char *)out, 512, hdr_fmt, n, bl);
    *hl = (size_t)w;
    memcpy(out + w, bin, bl);
    return (size_t)w + bl;
}

static void test_binary_request(void)
{
    char err[256];
    v2_request r;
    uint8_t body[1024];
    size_t hl;
    const char *els[] = {"\x89PNG-one", "JPEG2"};
    const char *fmt = "{\"inputs\":[{\"name\":\"image\",\"shape\":[%d],\"datatype\":\"BYTES\","
                      "\"parameters\":{\"binary_data_size\":%zu}}]}";
    size_t len = make_binary(body, fmt, els, 2, &hl);
    CHECK_INT_EQ(v2_parse_request(body, len, (long long)hl, 8, &r, err, sizeof err), V2_OK);
    CHECK_INT_EQ(r.n_images, 2);
    CHECK(r.images[0].len == 8 && memcmp(r.images[0].data, "\x89PNG-one", 8) == 0);
    CHECK(r.images[1].len == 5 && r.images[1].data == body + hl + 4 + 8 + 4);
    v2_request_free(&r);

    /* every truncation of the binary section fails cleanly (exact-size heap copies for ASan) */
    int all_err = 1;
    for (size_t cut = hl; cut < len; cut++) {
        uint8_t *c = malloc(cut);
        memcpy(c, body, cut);
        if (v2_parse_request(c, cut, (long long)hl, 8, &r, err, sizeof err) == V2_OK) all_err = 0;
        free(c);
    }
    CHECK(all_err);
    /* header length beyond the body */
    CHECK_INT_EQ(v2_parse_request(body, len, (long long)len + 1, 8, &r, err, sizeof err), V2_EINVAL);
    /* a length prefix claiming 4 GB */
    uint8_t evil[512];
    int w = snprintf((char *)evil, sizeof evil, fmt, 1, (size_t)6);
    memcpy(evil + w, "\xff\xff\xff\xff" "ab", 6);
    CHECK_INT_EQ(v2_parse_request(evil, (size_t)w + 6, w, 8, &r, err, sizeof err), V2_EINVAL);
    CHECK(strstr(err, "overruns") != NULL);
}

static const char *LABELS[4] = {"cat", "dog", "bird", "cat"};
static const api_model RM = {"toy", "deit_toy", "F32", 224, 224, 3, 16, 64, 3, 2, 4, 1, LABELS, NULL, 0.25, {DEIT_RESIZE_SHORTEST_SIDE, 248, 0, 0},
                             "int8", "avx512", "distillation", 4 * 3 * 198 * 198};
/* the same model with one head: its fused probabilities are the class head's softmax */
static const api_model RM1 = {"toy", "deit_toy", "F32", 224, 224, 3, 16, 64, 3, 2, 4, 0, LABELS, NULL, 0.25, {DEIT_RESIZE_SHORTEST_SIDE, 248, 0, 0},
                              "f32", "avx2", NULL, 4 * 3 * 197 * 197};

/* Logits whose softmax is p (p sums to 1); 0 becomes a logit far enough down to give exactly 0. */
static void logits_of(const float *p, float *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = p[i] > 0 ? logf(p[i]) : -1e4f;
}

static json_t *load(char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    return j;
}

static void test_responses(void)
{
    size_t len = 0;
    json_t *j = load(resp_error(413, "too \"big\"", &len));
    CHECK(j != NULL);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(j, "error"), "code")), 413);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "too \"big\"");
    json_decref(j);
    j = load(resp_v2_error("bad", &len));
    CHECK_STR_EQ(json_string_value(json_object_get(j, "error")), "bad");
    json_decref(j);

    /* TorchServe: label map, best first, repeated label keeps the higher score */
    float fused[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.7f, 0.1f, 0.1f, 0.1f}, lf[8];
    logits_of(fused, lf, 8);
    j = load(resp_torchserve(&RM1, lf, NULL, 1, 5, &len));
    CHECK(json_is_object(j));
    CHECK_INT_EQ(json_object_size(j), 3);
    CHECK_NEAR(json_real_value(json_object_get(j, "cat")), 0.4, 1e-6);
    const char *first = json_object_iter_key(json_object_iter(j));
    CHECK_STR_EQ(first, "cat");
    json_decref(j);
    j = load(resp_torchserve(&RM1, lf, NULL, 2, 1, &len));
    CHECK(json_is_array(j) && json_array_size(j) == 2);
    CHECK_NEAR(json_real_value(json_object_get(json_array_get(j, 1), "cat")), 0.7, 1e-6);
    json_decref(j);

    /* v2: FP32 [2,4] and classification BYTES [2,2], fused from two heads: image 0 has the same
     * probabilities in both heads, image 1 a class head sure of "dog" and a distillation head sure of
     * "cat", so its fused top is a tie of 0.5 (lowest index first) */
    float pc[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0, 1, 0, 0}, pd[8] = {0.1f, 0.2f, 0.3f, 0.4f, 1, 0, 0, 0};
    float lc[8], ld[8];
    logits_of(pc, lc, 8);
    logits_of(pd, ld, 8);
    v2_output outs[2] = {{V2_OUT_CLASS, 0, 0}, {V2_OUT_FUSED, 2, 0}};
    size_t jlen = 0;
    char *body = resp_v2_infer(&RM, "id7", outs, 2, lc, ld, NULL, 2, &len, &jlen);
    CHECK(body && jlen == len); /* all JSON: no binary part */
    j = load(body);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "model_name")), "toy");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "id")), "id7");
    json_t *o0 = json_array_get(json_object_get(j, "outputs"), 0);
    json_t *o1 = json_array_get(json_object_get(j, "outputs"), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(o0, "name")), "class_probs");
    CHECK_STR_EQ(json_string_value(json_object_get(o0, "datatype")), "FP32");
    CHECK_INT_EQ(json_integer_value(json_array_get(json_object_get(o0, "shape"), 1)), 4);
    CHECK_INT_EQ(json_array_size(json_object_get(o0, "data")), 8);
    CHECK_NEAR(json_real_value(json_array_get(json_object_get(o0, "data"), 5)), 1.0, 1e-9);
    CHECK_STR_EQ(json_string_value(json_object_get(o1, "datatype")), "BYTES");
    CHECK_INT_EQ(json_array_size(json_object_get(o1, "data")), 4);
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(o1, "data"), 0)), "0.400000:3:cat");
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(o1, "data"), 2)), "0.500000:0:cat");
    json_decref(j);

    j = load(resp_v2_model(&RM, &len));
    CHECK_STR_EQ(json_string_value(json_object_get(j, "name")), "toy");
    CHECK_INT_EQ(json_array_size(json_object_get(j, "outputs")), 6); /* probabilities and explanation */
    CHECK_INT_EQ(json_integer_value(json_array_get(json_object_get(json_array_get(json_object_get(j, "inputs"), 0),
                                                                   "shape"), 0)), -1);
    /* the precision and kernel set the model runs at, as model parameters */
    json_t *par = json_object_get(j, "parameters");
    CHECK_STR_EQ(json_string_value(json_object_get(par, "precision")), "int8");
    CHECK_STR_EQ(json_string_value(json_object_get(par, "isa")), "avx512");
    json_decref(j);
    j = load(resp_models(&RM, &len));
    json_t *m0 = json_array_get(json_object_get(j, "models"), 0);
    CHECK_INT_EQ(json_integer_value(json_object_get(m0, "classes")), 4);
    CHECK_STR_EQ(json_string_value(json_object_get(m0, "precision")), "int8");
    CHECK_STR_EQ(json_string_value(json_object_get(m0, "isa")), "avx512");
    CHECK(json_is_true(json_object_get(m0, "distilled")));
    json_decref(j);
}

/* A body of many tiny values is refused before jansson builds them (~100 bytes each: 32 MiB of
 * "{}," took 4 GB); commas, colons and brackets inside strings are not values. */
/* The binary-data extension for outputs, as Triton's clients ask for it: per output
 * parameters.binary_data, or the request's parameters.binary_data_output for all (an output's own
 * setting wins); outputs [] means all three, as gRPC's none. */
static void test_binary_outputs(void)
{
    char err[256];
    v2_request r;
    const char *in = "\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"aGk=\"]}]";
    char req[512];
    snprintf(req, sizeof req, "{%s,\"outputs\":[{\"name\":\"class_probs\",\"parameters\":{\"binary_data\":true}},"
             "{\"name\":\"fused_probs\"}]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_OK);
    CHECK(r.n_outputs == 2 && r.outputs[0].binary == 1 && r.outputs[1].binary == 0);
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s,\"parameters\":{\"binary_data_output\":true},\"outputs\":[{\"name\":"
             "\"class_probs\",\"parameters\":{\"binary_data\":false}},{\"name\":\"fused_probs\"}]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_OK);
    CHECK(r.n_outputs == 2 && r.outputs[0].binary == 0 && r.outputs[1].binary == 1);
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s,\"parameters\":{\"binary_data_output\":true},\"outputs\":[]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_OK);
    CHECK(r.n_outputs == 3 && r.outputs[0].binary && r.outputs[1].binary && r.outputs[2].binary);
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s,\"parameters\":{\"binary_data_output\":1}}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_EINVAL);
    CHECK(strstr(err, "binary_data_output") != NULL);
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s,\"parameters\":[]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_EINVAL);
    v2_request_free(&r);

    /* Triton's "timeout" request parameter: microseconds; 0 none; a day or more none */
    static const struct { const char *v; int rc; double s; } timeouts[] = {
        {"1500", V2_OK, 0.0015}, {"0", V2_OK, 0}, {"86400000001", V2_OK, 0}, {"-1", V2_EINVAL, 0},
        {"1.5", V2_EINVAL, 0}, {"\"100\"", V2_EINVAL, 0}, {"true", V2_EINVAL, 0}};
    for (size_t i = 0; i < sizeof timeouts / sizeof *timeouts; i++) {
        snprintf(req, sizeof req, "{%s,\"parameters\":{\"timeout\":%s}}", in, timeouts[i].v);
        CHECK_INT_EQ(parse_json(req, 8, &r, err), timeouts[i].rc);
        if (timeouts[i].rc == V2_OK)
            CHECK_MSG(fabs(r.timeout_s - timeouts[i].s) < 1e-12, "timeout %s: %g s", timeouts[i].v, r.timeout_s);
        else
            CHECK_MSG(strstr(err, "\"timeout\"") != NULL, "timeout %s: %s", timeouts[i].v, err);
        v2_request_free(&r);
    }
    snprintf(req, sizeof req, "{%s}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_OK);
    CHECK(r.timeout_s == 0); /* absent: none */
    v2_request_free(&r);

    /* the answer: JSON with binary_data_size and no data for the binary outputs, then their bytes in
     * the order listed: FP32 little-endian; BYTES each a 4-byte little-endian length and the string */
    static const char *labels[3] = {"cat", "dog", "emu"};
    api_model m;
    memset(&m, 0, sizeof m);
    m.name = "toy";
    m.architecture = "a";
    m.dtype = "F32";
    m.n_classes = 3;
    m.distilled = 1;
    m.labels = labels;
    const float p[3] = {0.25f, 0.5f, 0.25f};
    float lg[3];
    for (int i = 0; i < 3; i++) lg[i] = logf(p[i]);
    v2_output outs[3] = {{V2_OUT_CLASS, 0, 1}, {V2_OUT_DISTILL, 0, 0}, {V2_OUT_FUSED, 2, 1}};
    size_t len = 0, jlen = 0;
    char *b = resp_v2_infer(&m, NULL, outs, 3, lg, lg, NULL, 1, &len, &jlen);
    CHECK(b != NULL && jlen < len);
    if (!b || jlen >= len) { free(b); return; }
    json_t *j = json_loadb(b, jlen, 0, NULL);
    json_t *o = json_object_get(j, "outputs");
    CHECK(json_object_get(json_array_get(o, 0), "data") == NULL);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(json_array_get(o, 0), "parameters"),
                                                    "binary_data_size")), 12);
    CHECK_INT_EQ(json_array_size(json_object_get(json_array_get(o, 1), "data")), 3);
    const char *e0 = "0.500000:1:dog", *e1 = "0.250000:0:cat";
    size_t bytes = 4 + strlen(e0) + 4 + strlen(e1);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(json_array_get(o, 2), "parameters"),
                                                    "binary_data_size")), (long long)bytes);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(o, 2), "datatype")), "BYTES");
    CHECK_INT_EQ(len - jlen, 12 + bytes);
    const uint8_t *raw = (const uint8_t *)b + jlen;
    for (int i = 0; i < 3; i++) {
        float f;
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 | (uint32_t)raw[4 * i + 2] << 16 |
                     (uint32_t)raw[4 * i + 3] << 24;
        memcpy(&f, &u, 4);
        CHECK_NEAR(f, p[i], 1e-6);
    }
    raw += 12;
    CHECK(raw[0] == strlen(e0) && raw[1] == 0 && raw[2] == 0 && raw[3] == 0 && memcmp(raw + 4, e0, strlen(e0)) == 0);
    raw += 4 + strlen(e0);
    CHECK(raw[0] == strlen(e1) && memcmp(raw + 4, e1, strlen(e1)) == 0);
    json_decref(j);
    free(b);
}

static void test_json_value_bound(void)
{
    size_t n = 70000, len = 8 + 3 * n;
    char *body = malloc(len + 64), err[256];
    memcpy(body, "{\"a\":[", 6);
    size_t at = 6;
    for (size_t i = 0; i < n; i++, at += 3) memcpy(body + at, i + 1 < n ? "{}," : "{} ", 3);
    memcpy(body + at, "]}", 3);
    v2_request r;
    CHECK_INT_EQ(parse_json(body, 8, &r, err), V2_ETOOMANY);
    CHECK_MSG(strstr(err, "more than 65536 values"), "%s", err);
    /* the same punctuation inside a string (with escaped quotes) is one value: parsed, then refused
     * for what it is (no inputs), not for its size */
    memcpy(body, "{\"id\":\"\\\"", 9);
    at = 9;
    for (size_t i = 0; i < n; i++, at += 3) memcpy(body + at, "[:,", 3);
    memcpy(body + at, "\"}", 3);
    CHECK(parse_json(body, 8, &r, err) == V2_EINVAL && !strstr(err, "values"));
    free(body);
}

/* The explanation outputs (class_rollout, distill_rollout, token_cosine): named like any output,
 * never implied, never with "classification"; offered and checked per model (none for a model too big
 * to explain, no second-token ones without a second token); FP32 [n, grid_h, grid_w] and [n], their
 * floats gathered from the carried explanations, in JSON or as binary data. */
static void test_explain_outputs(void)
{
    char err[256];
    v2_request r;
    const char *in = "\"inputs\":[{\"name\":\"image\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"aGk=\",\"aGk=\"]}]";
    char req[512];
    snprintf(req, sizeof req, "{%s,\"outputs\":[{\"name\":\"class_rollout\"},{\"name\":\"distill_rollout\","
             "\"parameters\":{\"binary_data\":true}},{\"name\":\"token_cosine\"},{\"name\":\"fused_probs\"}]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_OK);
    CHECK(r.n_outputs == 4 && r.outputs[0].kind == V2_OUT_CLASS_ROLLOUT && r.outputs[1].binary &&
          r.outputs[2].kind == V2_OUT_TOKEN_COSINE);
    CHECK(v2_wants_explain(&r));
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s}", in); /* none named: the probabilities only, nothing explained */
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_OK);
    CHECK(r.n_outputs == 3 && !v2_wants_explain(&r));
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s,\"outputs\":[{\"name\":\"class_rollout\",\"parameters\":{\"classification\":2}}]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_EINVAL);
    CHECK_MSG(strstr(err, "not class_rollout") != NULL, "%s", err);
    v2_request_free(&r);
    snprintf(req, sizeof req, "{%s,\"outputs\":[{\"name\":\"attention\"}]}", in);
    CHECK_INT_EQ(parse_json(req, 8, &r, err), V2_EINVAL);
    CHECK_MSG(strstr(err, "class_rollout, distill_rollout or token_cosine") != NULL, "%s", err);
    v2_request_free(&r);

    /* which model offers what: a 3x3 patch grid, two heads / one head / too big to explain */
    api_model two = RM, one = RM1, huge = RM;
    two.image_h = two.image_w = one.image_h = one.image_w = 48;
    huge.explain_bytes = (size_t)1 << 40;
    v2_output_kind k[V2_OUT_COUNT];
    CHECK_INT_EQ(api_v2_offered(&two, k), 6);
    CHECK_INT_EQ(api_v2_offered(&one, k), 4);
    CHECK(k[3] == V2_OUT_CLASS_ROLLOUT);
    CHECK_INT_EQ(api_v2_offered(&huge, k), 3);
    v2_request all;
    memset(&all, 0, sizeof all);
    for (int i = 0; i < V2_OUT_COUNT; i++) CHECK_INT_EQ(v2_add_output(&all, v2_output_names[i], 0, 0, err, sizeof err), V2_OK);
    CHECK_INT_EQ(api_v2_outputs_check(&two, &all, err, sizeof err), 0);
    CHECK_INT_EQ(api_v2_outputs_check(&one, &all, err, sizeof err), 400);
    CHECK_MSG(strstr(err, "output distill_rollout is not available for this model: the model has no second token"),
              "%s", err);
    CHECK_INT_EQ(api_v2_outputs_check(&huge, &all, err, sizeof err), 400);
    CHECK_MSG(strstr(err, "output class_rollout is not available") && strstr(err, "MiB"), "%s", err);
    all.n_outputs = V2_OUT_PROBS;
    CHECK_INT_EQ(api_v2_outputs_check(&huge, &all, err, sizeof err), 0);

    /* the answer for two images: each carried explanation [9 class, 9 distillation, 1 cosine], every
     * value its own position, so a wrong offset or stride shows */
    float ex[2 * 19], lg[2 * 4] = {0};
    for (int i = 0; i < 38; i++) ex[i] = (float)i + 0.5f;
    v2_output outs[3] = {{V2_OUT_CLASS_ROLLOUT, 0, 0}, {V2_OUT_DISTILL_ROLLOUT, 0, 1}, {V2_OUT_TOKEN_COSINE, 0, 0}};
    size_t len = 0, jlen = 0;
    char *b = resp_v2_infer(&two, NULL, outs, 3, lg, lg, ex, 2, &len, &jlen);
    CHECK(b != NULL && jlen + 18 * sizeof(float) == len);
    if (!b || jlen + 18 * sizeof(float) != len) {
        free(b);
        return;
    }
    json_t *j = json_loadb(b, jlen, 0, NULL);
    json_t *o = json_object_get(j, "outputs"), *c = json_array_get(o, 0), *d = json_array_get(o, 1),
           *t = json_array_get(o, 2);
    json_t *shape3 = json_pack("[i, i, i]", 2, 3, 3), *shape1 = json_pack("[i]", 2);
    CHECK(json_equal(json_object_get(c, "shape"), shape3) && json_equal(json_object_get(d, "shape"), shape3));
    CHECK(json_equal(json_object_get(t, "shape"), shape1));
    CHECK_STR_EQ(json_string_value(json_object_get(c, "datatype")), "FP32");
    CHECK_INT_EQ(json_array_size(json_object_get(c, "data")), 18);
    for (int i = 0; i < 18; i++) { /* image i / 9, patch i % 9 */
        double want = (i / 9) * 19 + (i % 9) + 0.5;
        CHECK_MSG(json_real_value(json_array_get(json_object_get(c, "data"), (size_t)i)) == want, "class_rollout[%d]", i);
    }
    CHECK(json_real_value(json_array_get(json_object_get(t, "data"), 0)) == 18.5 &&
          json_real_value(json_array_get(json_object_get(t, "data"), 1)) == 37.5);
    CHECK_INT_EQ(json_integer_value(json_object_get(json_object_get(d, "parameters"), "binary_data_size")),
                 18 * (long long)sizeof(float));
    for (int i = 0; i < 18; i++) {
        float v;
        memcpy(&v, b + jlen + (size_t)i * 4, 4);
        CHECK_MSG(v == (float)((i / 9) * 19 + 9 + (i % 9)) + 0.5f, "distill_rollout[%d] = %g", i, v);
    }
    json_decref(shape3);
    json_decref(shape1);
    json_decref(j);
    free(b);

    /* metadata and Triton's model config list them with their shapes */
    j = load(resp_v2_model(&two, &len));
    o = json_object_get(j, "outputs");
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(o, 4), "name")), "distill_rollout");
    shape3 = json_pack("[i, i, i]", -1, 3, 3);
    CHECK(json_equal(json_object_get(json_array_get(o, 4), "shape"), shape3));
    json_decref(j);
    j = load(resp_v2_model_config(&one, &len));
    o = json_object_get(j, "output");
    CHECK_INT_EQ(json_array_size(o), 4);
    CHECK(json_equal(json_object_get(json_array_get(o, 3), "dims"), shape3));
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(o, 3), "data_type")), "TYPE_FP32");
    json_decref(shape3);
    json_decref(j);
}

int main(void)
{
    test_base64();
    test_json_value_bound();
    test_json_request();
    test_binary_request();
    test_responses();
    test_binary_outputs();
    test_explain_outputs();
    return check_summary("test_v2");
}
