/* response.h — JSON bodies of every endpoint (predictions, TorchServe, KServe v2, metadata, errors),
 * built with jansson from probabilities the caller has already fused.
 *
 * Every builder returns a malloc'd NUL-terminated string (free with free()) and its length in *len,
 * or NULL when out of memory. Probability arrays are [n_images][n_classes], row-major.
 * Thread-safe: no global state.
 */
#ifndef DEIT_API_RESPONSE_H
#define DEIT_API_RESPONSE_H

#include <stddef.h>

#include "config.h"
#include "v2.h"

/* What the responses say about the served model. Pointers are borrowed. */
typedef struct {
    const char *name;          /* model name (URL path segment of /predictions and /v2/models) */
    const char *architecture;  /* e.g. deit_tiny_distilled_patch16_224; "" if unknown */
    const char *dtype;         /* stored weight dtype: "F32", "F16", "BF16" */
    int image_h, image_w, in_chans, patch, dim, depth, heads, n_classes, distilled;
    const char *const *labels; /* [n_classes] */
} resp_model;

/* Fills m from a loaded model's configuration; name is what clients call it (borrowed). */
void resp_model_init(resp_model *m, const deit_config *c, const char *name);

/* Milliseconds spent per stage of one request. */
typedef struct {
    double decode, queue, inference, total;
} resp_timing;

/* /v1/predict: {"model": model_name, "predictions": [{"class_head", "distill_head", "fused", "heads_agree"}…],
 * "timing_ms"}. Each prediction is api_prediction_json's (prediction.h), exactly what deit-predict
 * prints for the same logits. cls/dist logits: [n_images][c->n_classes]. */
char *resp_predict(const deit_config *c, const char *model_name, const float *cls_logits,
                   const float *dist_logits, int n_images, int top_k, const resp_timing *t, size_t *len);

/* TorchServe /predictions/{model}: fused top-k as {label: probability} for one image, an array of
 * such objects for several. */
char *resp_torchserve(const resp_model *m, const float *p_fused, int n_images, int top_k, size_t *len);

/* KServe v2 infer response. probs[kind] is the [n][classes] array for each v2_output_kind. */
char *resp_v2_infer(const resp_model *m, const char *id, const v2_output *outs, int n_outs,
                    const float *const probs[V2_OUT_COUNT], int n_images, size_t *len);

/* {"error": {"code": status, "message": msg}} */
char *resp_error(int status, const char *msg, size_t *len);
/* KServe v2: {"error": msg} */
char *resp_v2_error(const char *msg, size_t *len);

/* GET /v1/models: {"models": [{name, architecture, dtype, input:{…}, dims, classes, heads:[…]}]} */
char *resp_models(const resp_model *m, size_t *len);
/* GET /v2: {"name", "version", "extensions"} */
char *resp_v2_server(const char *version, size_t *len);
/* GET /v2/models/{name}: {name, versions, platform, inputs, outputs} */
char *resp_v2_model(const resp_model *m, size_t *len);

/* One element of a v2 classification output, "score:index:label" (REST and gRPC alike); returns the
 * length snprintf would write. RESP_CLASS_ENTRY_BYTES always holds it. */
#define RESP_CLASS_ENTRY_BYTES (64 + DEIT_MAX_LABEL_BYTES)
int resp_class_entry(char *buf, size_t cap, float score, int index, const char *label);

/* Index of the largest value of p[n] (lowest index on ties). */
int resp_argmax(const float *p, int n);

#endif
