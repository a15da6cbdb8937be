/* response.c — JSON response bodies; see response.h. */
#include "response.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deit.h"
#include "prediction.h"

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

char *resp_predict(const deit_config *c, const char *model_name, const float *cls_logits,
                   const float *dist_logits, int n_images, int top_k, const resp_timing *t, size_t *len)
{
    json_t *preds = json_array();
    size_t K = (size_t)c->n_classes;
    for (int i = 0; preds && i < n_images; i++)
        if (json_array_append_new(preds, api_prediction_json(c, cls_logits + i * K, dist_logits + i * K, top_k, 0))) {
            json_decref(preds);
            preds = NULL;
        }
    if (!preds) return NULL;
    json_t *root = json_pack("{s:s, s:o, s:{s:f, s:f, s:f, s:f}}", "model", model_name, "predictions", preds,
                             "timing_ms", "decode", t->decode, "queue", t->queue, "inference", t->inference,
                             "total", t->total);
    return finish(root, len);
}

/* {label: probability} of the top k of p; the first (higher) score wins for a repeated label. */
static json_t *label_map(const resp_model *m, const float *p, int k, int *idx)
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

char *resp_torchserve(const resp_model *m, const float *p_fused, int n_images, int top_k, size_t *len)
{
    int *idx = malloc((size_t)(top_k > 0 ? top_k : 1) * sizeof *idx);
    if (!idx) return NULL;
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
    return finish(root, len);
}

static const char *dtype_name(st_dtype t)
{
    switch (t) {
    case ST_F32: return "F32";
    case ST_F16: return "F16";
    case ST_BF16: return "BF16";
    default: return "other";
    }
}

void resp_model_init(resp_model *m, const deit_config *c, const char *name)
{
    *m = (resp_model){name, c->architecture, dtype_name(c->dtype), c->image_h, c->image_w, c->in_chans, c->patch,
                      c->dim, c->depth, c->heads, c->n_classes, c->distilled, (const char *const *)c->labels};
}

int resp_class_entry(char *buf, size_t cap, float score, int index, const char *label)
{
    return snprintf(buf, cap, "%.6f:%d:%s", (double)score, index, label);
}

/* One v2 output tensor: FP32 [n, classes] probabilities or BYTES [n, k] "score:index:label". */
static json_t *v2_tensor(const resp_model *m, const v2_output *o, const float *p, int n)
{
    size_t K = (size_t)m->n_classes;
    json_t *data = json_array();
    if (!data) return NULL;
    int cols;
    if (o->classification > 0) {
        int k = o->classification < m->n_classes ? o->classification : m->n_classes;
        int *idx = malloc((size_t)k * sizeof *idx);
        if (!idx) { json_decref(data); return NULL; }
        for (int i = 0; i < n; i++) {
            int got = deit_topk(p + i * K, m->n_classes, k, idx);
            for (int j = 0; j < got; j++) {
                char buf[RESP_CLASS_ENTRY_BYTES];
                resp_class_entry(buf, sizeof buf, p[i * K + (size_t)idx[j]], idx[j], m->labels[idx[j]]);
                if (json_array_append_new(data, json_string(buf))) { free(idx); json_decref(data); return NULL; }
            }
        }
        free(idx);
        cols = k;
    } else {
        for (size_t i = 0; i < (size_t)n * K; i++)
            if (json_array_append_new(data, json_real((double)p[i]))) { json_decref(data); return NULL; }
        cols = m->n_classes;
    }
    return json_pack("{s:s, s:[i, i], s:s, s:o}", "name", v2_output_names[o->kind], "shape", n, cols,
                     "datatype", o->classification > 0 ? "BYTES" : "FP32", "data", data);
}

char *resp_v2_infer(const resp_model *m, const char *id, const v2_output *outs, int n_outs,
                    const float *const probs[V2_OUT_COUNT], int n_images, size_t *len)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < n_outs; i++)
        if (json_array_append_new(arr, v2_tensor(m, &outs[i], probs[outs[i].kind], n_images))) {
            json_decref(arr);
            arr = NULL;
        }
    if (!arr) return NULL;
    json_t *root = json_pack("{s:s, s:s, s:o}", "model_name", m->name, "model_version", "1", "outputs", arr);
    if (root && id && json_object_set_new(root, "id", json_string(id))) { json_decref(root); return NULL; }
    return finish(root, len);
}

char *resp_error(int status, const char *msg, size_t *len)
{
    return finish(json_pack("{s:{s:i, s:s}}", "error", "code", status, "message", msg), len);
}

char *resp_v2_error(const char *msg, size_t *len)
{
    return finish(json_pack("{s:s}", "error", msg), len);
}

char *resp_models(const resp_model *m, size_t *len)
{
    json_t *heads = m->distilled ? json_pack("[s, s]", "class", "distillation") : json_pack("[s]", "class");
    json_t *model = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:i, s:i, s:i, s:i, s:i, s:o, s:b}",
                              "name", m->name, "architecture", m->architecture, "dtype", m->dtype,
                              "input", "channels", m->in_chans, "height", m->image_h, "width", m->image_w,
                              "patch", m->patch, "dim", m->dim, "depth", m->depth, "heads", m->heads,
                              "classes", m->n_classes, "prediction_heads", heads,
                              "distilled", m->distilled);
    return finish(json_pack("{s:[o]}", "models", model), len);
}

char *resp_v2_server(const char *version, size_t *len)
{
    return finish(json_pack("{s:s, s:s, s:[s]}", "name", "deit-server", "version", version, "extensions",
                            "classification"), len);
}

char *resp_v2_model(const resp_model *m, size_t *len)
{
    json_t *outs = json_array();
    for (int k = 0; outs && k < V2_OUT_COUNT; k++)
        if (json_array_append_new(outs, json_pack("{s:s, s:s, s:[i, i]}", "name", v2_output_names[k],
                                                  "datatype", "FP32", "shape", -1, m->n_classes))) {
            json_decref(outs);
            outs = NULL;
        }
    if (!outs) return NULL;
    return finish(json_pack("{s:s, s:[s], s:s, s:[{s:s, s:s, s:[i]}], s:o}", "name", m->name, "versions", "1",
                            "platform", "deit-c", "inputs", "name", "image", "datatype", "BYTES", "shape", -1,
                            "outputs", outs), len);
}
