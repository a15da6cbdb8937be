/* prediction.h — one image's predictions as JSON, shared by the CLI and the HTTP API so both
 * print the same numbers. */
#ifndef DEIT_API_PREDICTION_H
#define DEIT_API_PREDICTION_H

#include <jansson.h>

#include "model_info.h"

/* Upper bound on top_k accepted anywhere (clamped further to the number of classes). */
#define API_MAX_TOP_K 1000

/* Builds {"class_head": [{index, label, score}…], "distill_head": […], "fused": […],
 * "heads_agree": bool} from one image's logits (fused here, as every response does). For a
 * non-distilled model (one head), "distill_head", "heads_agree" and "distill_logits" are null and
 * "fused" is the class head. Scores are probabilities, top_k of each, best first. heads_agree: the two
 * heads' top-1 classes are equal. With with_logits, adds "class_logits" and "distill_logits" (all
 * classes). Returns a new reference, or NULL on allocation failure. */
json_t *api_prediction_json(const api_model *m, const float *cls_logits, const float *dist_logits,
                            int top_k, int with_logits);

#endif
