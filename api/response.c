/* response.c — JSON response bodies; see response.h. */
#include "response.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deit.h"
#include "prediction.h"
#include "text.h"
#include "v2_outputs.h"

/* float32 scores round-trip with 9 significant digits; more would only print noise. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9))

/* Serialises and releases root, appending a newline (friendlier for curl users). */
static char *finish(json_t *root, size_t *len)
{
    if (!root) return NULL;
    char *s = json_dumps(root, DUMP_FLAGS);
    json_decref(root);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *out = realloc(s, n + 2);
    if (!out) { free(s); return NULL; }
    out[n] = '\n';
    out[n + 1] = '\0';
    if (len) *len = n + 1;
    return out;
}

int resp_argmax(const float *p, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

/* Class, distillation and fused probabilities of n images, each [n][K] in one allocation (free the
 * first pointer): the one place the API fuses the heads. NULL when out of memory. */
float *resp_fuse_all(const api_model *m, const float *cls, const float *dist, int n, const float *p[V2_OUT_COUNT])
{
    size_t K = (size_t)m->n_classes, N = (size_t)(n > 0 ? n : 0);
    size_t total = 3 * N * K;
    float *buf = malloc((total > 0 ? total : 1) * sizeof(float));
    if (!buf) return NULL;
    float *pc = buf, *pd = buf + N * K, *pf = buf + 2 * N * K;
    for (size_t i = 0; i < N; i++)
        deit_fuse(cls + i * K, dist ? dist + i * K : NULL, (int)K, m->distilled, pc + i * K, pd + i * K,
                  pf + i * K);
    p[V2_OUT_CLASS] = pc;
    p[V2_OUT_DISTILL] = pd;
    p[V2_OUT_FUSED] = pf;
    return buf;
}

char *resp_predict(const api_model *m, const float *cls_logits, const float *dist_logits, int n_images,
                   int top_k, const resp_timing *t, json_t *const *extra, size_t *len)
{
    json_t *preds = json_array();
    size_t K = (size_t)m->n_classes;
    for (int i = 0; i < n_images; i++) {
        json_t *p = preds ? api_prediction_json(m, cls_logits + i * K, dist_logits ? dist_logits + i * K : NULL,
                                                top_k, 0) : NULL;
        if (p && extra && extra[i] && json_object_update(p, extra[i])) {
            json_decref(p);
            p = NULL;
        }
        if (extra) json_decref(extra[i]);
        if (preds && json_array_append_new(preds, p)) {
            json_decref(preds);
            preds = NULL;
        }
    }
    if (!preds) return NULL;
    json_t *root = json_pack("{s:s, s:o, s:{s:f, s:f, s:f, s:f}}", "model", m->name, "predictions", preds,
                             "timing_ms", "decode", t->decode, "queue", t->queue, "inference", t->inference,
                             "total", t->total);
    return finish(root, len);
}

/* {label: probability} of the top k of p; the first (higher) score wins for a repeated label. */
static json_t *label_map(const api_model *m, const float *p, int k, int *idx)
{
    json_t *o = json_object();
    int got = deit_topk(p, m->n_classes, k, idx);
    for (int i = 0; o && i < got; i++) {
        const char *label = m->labels[idx[i]];
        if (json_object_get(o, label)) continue;
        if (json_object_set_new(o, label, json_real((double)p[idx[i]]))) { json_decref(o); return NULL; }
    }
    return o;
}

char *resp_torchserve(const api_model *m, const float *cls_logits, const float *dist_logits, int n_images,
                      int top_k, size_t *len)
{
    const float *p[V2_OUT_COUNT];
    float *probs = resp_fuse_all(m, cls_logits, dist_logits, n_images, p);
    int *idx = malloc((size_t)(top_k > 0 ? top_k : 1) * sizeof *idx);
    if (!probs || !idx) {
        free(probs);
        free(idx);
        return NULL;
    }
    const float *p_fused = p[V2_OUT_FUSED];
    size_t K = (size_t)m->n_classes;
    json_t *root;
    if (n_images == 1) {
        root = label_map(m, p_fused, top_k, idx);
    } else {
        root = json_array();
        for (int i = 0; root && i < n_images; i++)
            if (json_array_append_new(root, label_map(m, p_fused + i * K, top_k, idx))) {
                json_decref(root);
                root = NULL;
            }
    }
    free(idx);
    free(probs);
    return finish(root, len);
}

int resp_class_entry(char *buf, size_t cap, float score, int index, const char *label)
{
    return snprintf(buf, cap, "%.6f:%d:%s", (double)score, index, label);
}

/* Bytes appended after a v2 answer's JSON (the binary-data extension). */
typedef struct {
    uint8_t *b;
    size_t n, cap;
} byte_buf;

static int buf_put(byte_buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        size_t cap = (o->n + n) * 2;
        uint8_t *b = realloc(o->b, cap);
        if (!b) return -1;
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
    return 0;
}

static int buf_put_le32(byte_buf *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return buf_put(o, b, 4);
}

/* A shape as JSON: [d0, d1, ...]. */
static json_t *dims_json(const long long *dims, int nd)
{
    json_t *a = json_array();
    for (int i = 0; a && i < nd; i++)
        if (json_array_append_new(a, json_integer((json_int_t)dims[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Appends n floats to data (JSON) or to raw (FP32 little-endian). 0, or -1 when out of memory. */
static int put_floats(const float *p, size_t n, json_t *data, byte_buf *raw)
{
    for (size_t i = 0; i < n; i++) {
        if (raw) {
            uint32_t u;
            memcpy(&u, &p[i], 4);
            if (buf_put_le32(raw, u)) return -1;
        } else if (json_array_append_new(data, json_real((double)p[i]))) {
            return -1;
        }
    }
    return 0;
}

/* Appends the top-k "score:index:label" elements of each of n rows of probabilities p, to data
 * (JSON strings) or to raw (each a 4-byte little-endian length and the bytes, as Triton writes them). */
static int put_classification(const api_model *m, const float *p, int n, int k, json_t *data, byte_buf *raw)
{
    size_t K = (size_t)m->n_classes;
    int *idx = malloc((size_t)k * sizeof *idx), bad = !idx;
    for (int i = 0; !bad && i < n; i++) {
        int got = deit_topk(p + i * K, m->n_classes, k, idx);
        for (int j = 0; !bad && j < got; j++) {
            char buf[RESP_CLASS_ENTRY_BYTES];
            int bl = resp_class_entry(buf, sizeof buf, p[i * K + (size_t)idx[j]], idx[j], m->labels[idx[j]]);
            size_t sl = bl < 0 ? 0 : (size_t)bl < sizeof buf ? (size_t)bl : sizeof buf - 1;
            bad = raw ? buf_put_le32(raw, (uint32_t)sl) || buf_put(raw, buf, sl)
                      : json_array_append_new(data, json_string(buf));
        }
    }
    free(idx);
    return bad ? -1 : 0;
}

uint8_t *resp_v2_classification_bytes(const api_model *m, const float *p, int n, int k, size_t *len)
{
    byte_buf raw = {0};
    if (put_classification(m, p, n, k, NULL, &raw) || (!raw.b && !(raw.b = malloc(1)))) { /* none: still not NULL */
        free(raw.b);
        return NULL;
    }
    *len = raw.n;
    return raw.b;
}

/* One v2 output tensor of n images (shapes and datatypes: v2_outputs.h): probabilities from probs,
 * an explanation output from the carried explanations, its elements in "data" or, for a binary
 * output, appended to raw with parameters.binary_data_size. */
static json_t *v2_tensor(const api_model *m, const v2_output *o, const float *const probs[V2_OUT_COUNT],
                         const float *explain, int n, byte_buf *raw)
{
    size_t raw0 = raw->n;
    long long dims[V2_OUT_MAX_DIMS];
    int nd = api_v2_shape(m, o, n, dims);
    json_t *data = o->binary ? NULL : json_array();
    if (!o->binary && !data) return NULL;
    byte_buf *to = o->binary ? raw : NULL;
    int bad;
    if (o->kind >= V2_OUT_PROBS) {
        float *v = explain ? api_v2_explain_gather(m, o->kind, explain, n) : NULL;
        bad = !v || put_floats(v, (size_t)n * api_v2_explain_width(m, o->kind), data, to);
        free(v);
    } else if (o->classification > 0) {
        bad = put_classification(m, probs[o->kind], n, (int)dims[1], data, to);
    } else {
        bad = put_floats(probs[o->kind], (size_t)n * (size_t)m->n_classes, data, to);
    }
    json_t *shape = bad ? NULL : dims_json(dims, nd);
    if (!shape) {
        json_decref(data);
        return NULL;
    }
    if (o->binary)
        return json_pack("{s:s, s:o, s:s, s:{s:I}}", "name", v2_output_names[o->kind], "shape", shape, "datatype",
                         api_v2_datatype(o), "parameters", "binary_data_size", (json_int_t)(raw->n - raw0));
    return json_pack("{s:s, s:o, s:s, s:o}", "name", v2_output_names[o->kind], "shape", shape, "datatype",
                     api_v2_datatype(o), "data", data);
}

char *resp_v2_infer(const api_model *m, const char *id, const v2_output *outs, int n_outs,
                    const float *cls_logits, const float *dist_logits, const float *explain, int n_images,
                    size_t *len, size_t *json_len)
{
    const float *probs[V2_OUT_COUNT] = {NULL};
    float *buf = resp_fuse_all(m, cls_logits, dist_logits, n_images, probs);
    if (!buf) return NULL;
    byte_buf raw = {0};
    json_t *arr = json_array();
    for (int i = 0; arr && i < n_outs; i++)
        if (json_array_append_new(arr, v2_tensor(m, &outs[i], probs, explain, n_images, &raw))) {
            json_decref(arr);
            arr = NULL;
        }
    free(buf);
    json_t *root = arr ? json_pack("{s:s, s:s, s:o}", "model_name", m->name, "model_version",
                                   api_model_version(m), "outputs", arr)
                       : NULL;
    if (root && id && json_object_set_new(root, "id", json_string(id))) {
        json_decref(root);
        root = NULL;
    }
    size_t jl = 0;
    char *out = finish(root, &jl);
    if (out && raw.n) { /* the JSON header, then the outputs' bytes in the order listed */
        char *all = realloc(out, jl + raw.n);
        if (all) memcpy(all + jl, raw.b, raw.n);
        else free(out);
        out = all;
    }
    free(raw.b);
    if (!out) return NULL;
    *len = jl + raw.n;
    if (json_len) *json_len = jl;
    return out;
}

/* Error messages may quote what a client sent (a path, a Content-Type): made valid UTF-8 first, or
 * jansson would refuse the string and the client would get no message at all. */
#define MAX_ERROR_BYTES 2048

char *resp_error(int status, const char *msg, size_t *len)
{
    char clean[MAX_ERROR_BYTES];
    api_utf8_clean(msg, strlen(msg), clean, sizeof clean);
    return finish(json_pack("{s:{s:i, s:s}}", "error", "code", status, "message", clean), len);
}

char *resp_v2_error(const char *msg, size_t *len)
{
    char clean[MAX_ERROR_BYTES];
    api_utf8_clean(msg, strlen(msg), clean, sizeof clean);
    return finish(json_pack("{s:s}", "error", clean), len);
}

const char *resp_torchserve_type(int status)
{
    /* deploy/nginx.conf's $deit_error_type spells the same names for the errors nginx answers */
    static const struct { int status; const char *type; } TYPES[] = {
        {400, "BadRequestException"},         {401, "UnauthorizedException"},
        {403, "ForbiddenException"},          {404, "ModelNotFoundException"},
        {405, "MethodNotAllowedException"},   {408, "RequestTimeoutException"},
        {411, "LengthRequiredException"},     {413, "PayloadTooLargeException"},
        {414, "URITooLongException"},         {415, "UnsupportedMediaTypeException"},
        {429, "TooManyRequestsException"},    {431, "RequestHeaderFieldsTooLargeException"},
        {499, "ClientClosedRequestException"}, {500, "InternalServerException"},
        {501, "NotImplementedException"},     {502, "BadGatewayException"},
        {503, "ServiceUnavailableException"}, {504, "GatewayTimeoutException"},
        {505, "HTTPVersionNotSupportedException"},
    };
    for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
        if (TYPES[i].status == status) return TYPES[i].type;
    return status >= 500 ? "InternalServerException" : "BadRequestException";
}

char *resp_torchserve_error(int status, const char *msg, size_t *len)
{
    char clean[MAX_ERROR_BYTES];
    api_utf8_clean(msg, strlen(msg), clean, sizeof clean);
    return finish(json_pack("{s:i, s:s, s:s}", "code", status, "type", resp_torchserve_type(status), "message",
                            clean), len);
}

/* {"mode": "exact" | "keep_ratio", "width", "height"}, {"mode": "shortest_side", "size"}, or null
 * when the crop is cut from the image as it is */
static json_t *resize_json(const deit_resize *r)
{
    switch (r->mode) {
    case DEIT_RESIZE_EXACT:
    case DEIT_RESIZE_KEEP_RATIO:
        return json_pack("{s:s, s:i, s:i}", "mode", r->mode == DEIT_RESIZE_EXACT ? "exact" : "keep_ratio",
                         "width", r->width, "height", r->height);
    case DEIT_RESIZE_SHORTEST_SIDE: return json_pack("{s:s, s:i}", "mode", "shortest_side", "size", r->short_side);
    case DEIT_RESIZE_NONE: break;
    }
    return json_null();
}

char *resp_models(const api_model *m, size_t *len)
{
    /* a second class token's head is "class_2": the answers keep the distillation head's places
     * (distill_head, distill_probs), which hold the second head of any two-head model */
    int second_class = m->distilled && m->second_token && strcmp(m->second_token, "class") == 0;
    json_t *heads = !m->distilled ? json_pack("[s]", "class")
                    : json_pack("[s, s]", "class", second_class ? "class_2" : "distillation");
    /* how an image becomes the input: what the web page needs to lay maps over the crop the model saw */
    json_t *resize = resize_json(&m->resize);
    json_t *model = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:o}, s:i, s:i, s:i, s:i, s:i, s:o, s:b, s:o, s:o, s:b}",
                              "name", m->name, "architecture", m->architecture, "dtype", m->dtype,
                              "precision", m->precision ? m->precision : "f32", "isa", m->isa ? m->isa : "",
                              "input", "channels", m->in_chans, "height", m->image_h, "width", m->image_w,
                              "resize", resize,
                              "patch", m->patch, "dim", m->dim, "depth", m->depth, "heads", m->heads,
                              "classes", m->n_classes, "prediction_heads", heads,
                              "distilled", m->distilled && !second_class, "second_token",
                              m->distilled ? json_string(second_class ? "class" : "distillation") : json_null(),
                              "learned_token_cosine",
                              isfinite(m->learned_token_cosine) ? json_real(m->learned_token_cosine) : json_null(),
                              "explain", !api_explain_refused(m, NULL, 0));
    return finish(json_pack("{s:[o]}", "models", model), len);
}

const char *const resp_v2_extensions[RESP_V2_N_EXTENSIONS] = {"binary_tensor_data", "classification"};

char *resp_root(const char *version, const api_model *m, int api_key_required, size_t *len)
{
    return finish(json_pack("{s:s, s:s, s:o, s:b, s:[s, s, s, s, s, s, s], s:s}", "name", "deit-server",
                            "version", version, "model", m ? json_string(m->name) : json_null(),
                            "api_key_required", api_key_required, "endpoints", "POST v1/predict[?top_k=K&explain=1]",
                            "GET v1/models", "POST predictions/{model}", "POST v2/models/{model}/infer",
                            "GET healthz", "GET readyz", "GET metrics",
                            "page", "open this URL in a browser (Accept: text/html) for the web page"),
                  len);
}

char *resp_v2_server(const char *version, size_t *len)
{
    return finish(json_pack("{s:s, s:s, s:[s, s, s]}", "name", RESP_V2_SERVER_NAME, "version", version, "extensions",
                            resp_v2_extensions[0], resp_v2_extensions[1], "model_configuration"),
                  len);
}

/* One tensor of a ModelConfig, with the fields Triton always prints. */
static json_t *config_io(const char *name, const char *type, json_t *dims, int input)
{
    json_t *io = json_pack("{s:s, s:s, s:o, s:b}", "name", name, "data_type", type, "dims", dims, "is_shape_tensor", 0);
    if (io && input &&
        json_object_update_new(io, json_pack("{s:s, s:b, s:b}", "format", "FORMAT_NONE", "allow_ragged_batch", 0,
                                             "optional", 0)) != 0) {
        json_decref(io);
        return NULL;
    }
    if (io && !input && json_object_set_new(io, "label_filename", json_string("")) != 0) {
        json_decref(io);
        return NULL;
    }
    return io;
}

/* The outputs m offers (v2_outputs.h), each as one(name, datatype, shape) makes it (it takes shape). */
static json_t *offered_outputs(const api_model *m, json_t *(*one)(const char *, const char *, json_t *))
{
    v2_output_kind kinds[V2_OUT_COUNT];
    int n = api_v2_offered(m, kinds);
    json_t *outs = json_array();
    for (int i = 0; outs && i < n; i++) {
        v2_output o = {kinds[i], 0, 0};
        long long dims[V2_OUT_MAX_DIMS];
        int nd = api_v2_shape(m, &o, -1, dims);
        if (json_array_append_new(outs, one(v2_output_names[o.kind], api_v2_datatype(&o), dims_json(dims, nd)))) {
            json_decref(outs);
            outs = NULL;
        }
    }
    return outs;
}

/* Triton's ModelConfig names the v2 datatypes its own way */
static json_t *config_output(const char *name, const char *datatype, json_t *dims)
{
    return dims ? config_io(name, strcmp(datatype, "BYTES") == 0 ? "TYPE_STRING" : "TYPE_FP32", dims, 0) : NULL;
}

static json_t *metadata_output(const char *name, const char *datatype, json_t *dims)
{
    return json_pack("{s:s, s:s, s:o}", "name", name, "datatype", datatype, "shape", dims);
}

char *resp_v2_model_config(const api_model *m, size_t *len)
{
    json_t *outs = offered_outputs(m, config_output);
    if (!outs) return NULL;
    return finish(json_pack("{s:s, s:s, s:s, s:{s:{s:i}}, s:i, s:[o], s:o, s:{s:{s:s}, s:{s:s}}}", "name", m->name,
                            "platform", RESP_V2_PLATFORM, "backend", "", "version_policy", "latest", "num_versions", 1,
                            "max_batch_size", 0, "input",
                            config_io(RESP_V2_INPUT_NAME, "TYPE_STRING", json_pack("[i]", -1), 1), "output", outs,
                            "parameters", "precision", "string_value", m->precision ? m->precision : "f32", "isa",
                            "string_value", m->isa ? m->isa : ""),
                  len);
}

char *resp_v2_model(const api_model *m, size_t *len)
{
    json_t *outs = offered_outputs(m, metadata_output);
    if (!outs) return NULL;
    /* precision and kernel set as model parameters (the protocol's extension point) */
    return finish(json_pack("{s:s, s:[s], s:s, s:[{s:s, s:s, s:[i]}], s:o, s:{s:s, s:s}}", "name", m->name,
                            "versions", api_model_version(m), "platform", RESP_V2_PLATFORM, "inputs", "name",
                            RESP_V2_INPUT_NAME, "datatype", "BYTES", "shape", -1, "outputs", outs, "parameters",
                            "precision", m->precision ? m->precision : "f32", "isa", m->isa ? m->isa : ""),
                  len);
}
