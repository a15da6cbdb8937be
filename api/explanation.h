/* explanation.h — one image's explanation (?explain=1, deit-predict --explain): how the server
 * carries it from the worker to the answer, the engine call that fills it, and its JSON. */
#ifndef DEIT_API_EXPLANATION_H
#define DEIT_API_EXPLANATION_H

#include <jansson.h>
#include <stddef.h>

#include "deit.h"

/* Floats of one carried explanation: class map [G], distillation map [G], token cosine (NaN for a
 * one-head model), G = grid_h * grid_w patches. */
size_t api_explain_floats(const deit_model *m);

/* The same for a grid_h x grid_w patch grid; the offsets of the three parts in one explanation. */
size_t api_explain_floats_for(int grid_h, int grid_w);
#define API_EXPLAIN_CLASS_MAP(G) ((size_t)0)
#define API_EXPLAIN_DISTILL_MAP(G) ((size_t)(G))
#define API_EXPLAIN_TOKEN_COSINE(G) (2 * (size_t)(G))

/* deit_forward_explain for `batch` images where rec[b] (NULL: not asked; rec itself may be NULL for
 * none) receives image b's explanation in the layout above. Returns the engine's status. */
int api_forward_explained(const deit_model *m, deit_state *s, const float *pixels, int batch,
                          float *cls, float *dist, float *const *rec);

/* {"grid": [gh, gw], "token_cosine": c|null, "rollout": {"class_token": [G], "distill_token": [G]|null}}
 * from one carried explanation. New reference, NULL when out of memory. */
json_t *api_explain_json(const float *rec, int grid_h, int grid_w, int distilled);

/* learned_token_cosine as JSON: a number, or null for a one-head model. */
json_t *api_learned_token_cosine_json(const deit_model *m);

#endif
