/* response.h — JSON bodies of every endpoint (predictions, TorchServe, KServe v2, metadata, health,
 * errors), built with jansson. Every prediction builder takes the two heads' logits and fuses them
 * itself (deit_fuse), so each endpoint reports the same probabilities for the same logits.
 *
 * Every builder returns a malloc'd NUL-terminated string (free with free()) and its length in *len,
 * or NULL when out of memory. Logit arrays are [n_images][n_classes], row-major; dist_logits may be
 * NULL for a model without a distillation head. Thread-safe: no global state.
 */
#ifndef DEIT_API_RESPONSE_H
#define DEIT_API_RESPONSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "model_info.h"
#include "v2.h"

/* Class, distillation and fused probabilities of n images from their logits (dist may be NULL for a
 * model without a distillation head), each [n][classes], in one allocation that p[V2_OUT_CLASS]
 * points to: free the returned pointer. The one place the API fuses the heads. NULL when out of memory. */
float *resp_fuse_all(const api_model *m, const float *cls, const float *dist, int n, const float *p[V2_OUT_COUNT]);

/* What KServe v2 metadata says, over REST (resp_v2_server, resp_v2_model) and gRPC alike. */
#define RESP_V2_SERVER_NAME "deit-server"
#define RESP_V2_PLATFORM "deit_safetensors"
#define RESP_V2_INPUT_NAME "image"
#define RESP_V2_N_EXTENSIONS 2
extern const char *const resp_v2_extensions[RESP_V2_N_EXTENSIONS];

/* One element of a v2 classification output, "score:index:label" (REST and gRPC alike); returns the
 * length snprintf would write. RESP_CLASS_ENTRY_BYTES always holds it. */
#define RESP_CLASS_ENTRY_BYTES (64 + DEIT_MAX_LABEL_BYTES)
int resp_class_entry(char *buf, size_t cap, float score, int index, const char *label);

/* Milliseconds spent per stage of one request. */
typedef struct {
    double decode, queue, inference, total;
} resp_timing;

/* /v1/predict: {"model": name, "predictions": [{"class_head", "distill_head", "fused", "heads_agree"}…],
 * "timing_ms"}. Each prediction is api_prediction_json's (prediction.h), exactly what deit-predict
 * prints for the same logits. extra: NULL, or [n_images] objects (or NULL entries) whose keys are
 * added to each image's prediction (per-image data such as explanations); the builder takes over
 * the references, also on failure. */
char *resp_predict(const api_model *m, const float *cls_logits, const float *dist_logits, int n_images,
                   int top_k, const resp_timing *t, json_t *const *extra, size_t *len);

/* TorchServe /predictions/{model}: fused top-k as {label: probability} for one image, an array of
 * such objects for several. */
char *resp_torchserve(const api_model *m, const float *cls_logits, const float *dist_logits, int n_images,
                      int top_k, size_t *len);

/* A classification output's elements as binary data: for each of n rows of probabilities p, its top
 * k "score:index:label" strings, each a 4-byte little-endian length and the bytes (Triton's BYTES
 * layout; gRPC's raw_output_contents and REST's binary data alike). *len bytes, malloc'd (free it);
 * NULL when out of memory. */
uint8_t *resp_v2_classification_bytes(const api_model *m, const float *p, int n, int k, size_t *len);

/* KServe v2 infer response with the requested outputs (probabilities; explanation outputs from
 * explain, the n_images carried explanations of api/explanation.h, NULL when none was asked):
 * *len bytes, of which the first *json_len (may be NULL) are the JSON; when an output is binary
 * (binary-data extension) its bytes follow, and *json_len is the Inference-Header-Content-Length. */
char *resp_v2_infer(const api_model *m, const char *id, const v2_output *outs, int n_outs,
                    const float *cls_logits, const float *dist_logits, const float *explain, int n_images,
                    size_t *len, size_t *json_len);

/* {"error": {"code": status, "message": msg}} */
char *resp_error(int status, const char *msg, size_t *len);
/* KServe v2: {"error": msg} */
char *resp_v2_error(const char *msg, size_t *len);
/* TorchServe: {"code": status, "type": "<its exception name>", "message": msg} */
char *resp_torchserve_error(int status, const char *msg, size_t *len);
/* The "type" of resp_torchserve_error: TorchServe's own exception name for the statuses it answers
 * (BadRequestException, ModelNotFoundException, MethodNotAllowedException, InternalServerException,
 * ServiceUnavailableException), else the status's reason phrase as one such name. */
const char *resp_torchserve_type(int status);

/* GET /v1/models: {"models": [{name, architecture, dtype, input:{…}, dims, classes, heads:[…]}]} */
char *resp_models(const api_model *m, size_t *len);
/* GET / for JSON clients: {"name": "deit-server", "version", "model": name|null, "api_key_required",
 * "endpoints": [...], "page"}: what a client (and the web page) needs to start. m NULL while loading. */
char *resp_root(const char *version, const api_model *m, int api_key_required, size_t *len);

/* GET /v2: {"name", "version", "extensions"} */
char *resp_v2_server(const char *version, size_t *len);
/* GET /v2/models/{name}: {name, versions, platform, inputs, outputs} */
char *resp_v2_model(const api_model *m, size_t *len);

/* GET /v2/models/{m}/config: Triton's model configuration extension (REST only: its gRPC
 * ModelConfig call is outside the KServe protocol), the ModelConfig message as Triton's JSON writes
 * it: proto field names, enums by name, dims as numbers. It says what the metadata says: batching
 * is the tensors' first axis (max_batch_size 0, input dims [-1]), which is how perf_analyzer reads
 * it (--shape image:N). */
char *resp_v2_model_config(const api_model *m, size_t *len);

/* Index of the largest value of p[n] (lowest index on ties). */
int resp_argmax(const float *p, int n);

#endif
