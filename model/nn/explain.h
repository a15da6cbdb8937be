/* explain.h — attention capture during a forward pass and the rollout/cosines made from it (engine-internal). */
#ifndef DEIT_EXPLAIN_H
#define DEIT_EXPLAIN_H

#include "model_internal.h"

/* Allocates s->attn for this pass: depth * T^2 floats for each image with ex[b].class_map set
 * (and their slots). explain_finish frees it again: an explaining pass on a DeiT-B/384 holds
 * ~16 MB per explaining image, which a long-lived state must not keep for its whole life.
 * Returns DEIT_OK or DEIT_ENOMEM (nothing held). */
int explain_begin(deit_state *s, int batch, const deit_explain *ex);

/* Called right after the softmax of head h of block l, for query rows [t0, t0+nq) of image b:
 * accumulates the probabilities into s->attn (the head sum; the mean's 1/H is applied in double
 * at rollout). Rows are owned by one thread, so no synchronisation is needed. */
void explain_capture(deit_state *s, int b, int l, int h, int t0, int nq, const float *probs);

/* After the pass and the final norm: rollout maps and token cosine for each image with
 * ex[b].class_map set; then s->attn is freed. */
void explain_finish(deit_state *s, int batch, deit_explain *ex);

#endif
