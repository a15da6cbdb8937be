/* v2_outputs.h — the KServe v2 outputs a served model offers, for REST's and gRPC's answers and
 * metadata alike: the three probability outputs every model has, and the explanation outputs
 * (?explain=1's rollout maps and token cosine as tensors) of a model that can be explained. Which a
 * model offers, whether a request may name them, each one's datatype and shape, and the floats of
 * an explanation output: one place, so the two transports and their metadata cannot disagree. */
#ifndef DEIT_API_V2_OUTPUTS_H
#define DEIT_API_V2_OUTPUTS_H

#include <stddef.h>

#include "model_info.h"
#include "v2.h"

/* Most dimensions of an output: [batch, grid_h, grid_w] for a rollout map. */
#define V2_OUT_MAX_DIMS 3

/* The kinds m offers, in the order metadata lists them, into kinds[V2_OUT_COUNT]; returns how many.
 * Every model offers the probabilities; one that can be explained (api_explain_refused) also
 * class_rollout, and, with a second token (distillation or second class token), distill_rollout and
 * token_cosine. */
int api_v2_offered(const api_model *m, v2_output_kind kinds[V2_OUT_COUNT]);

/* 0 when m offers every output r names; otherwise 400 with a message naming the first it does not
 * (and why). */
int api_v2_outputs_check(const api_model *m, const v2_request *r, char *err, size_t errlen);

/* "FP32", or "BYTES" for a classification output. */
const char *api_v2_datatype(const v2_output *o);

/* The shape of o for n images (n = -1: metadata's variable batch) into dims[V2_OUT_MAX_DIMS];
 * returns the number of dimensions: [n, classes], [n, k] (classification, k clamped to the classes),
 * [n, grid_h, grid_w] (rollout maps, row-major over the patch grid) or [n] (token_cosine). */
int api_v2_shape(const api_model *m, const v2_output *o, long long n, long long dims[V2_OUT_MAX_DIMS]);

/* Floats per image of an explanation output: grid_h * grid_w for a map, 1 for token_cosine. */
size_t api_v2_explain_width(const api_model *m, v2_output_kind kind);

/* An explanation output's floats for n images, row after row, gathered from the carried
 * explanations (explain: n of them, api_explain_floats apart; api/explanation.h's layout). Returns a
 * malloc'd [n * api_v2_explain_width] array, or NULL when out of memory. */
float *api_v2_explain_gather(const api_model *m, v2_output_kind kind, const float *explain, int n);

#endif
