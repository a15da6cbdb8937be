/* explain.h — attention capture during a forward pass and the rollout/cosines made from it (engine-internal). */
#ifndef DEIT_EXPLAIN_H
#define DEIT_EXPLAIN_H

#include "model_internal.h"

/* Makes sure s->attn exists ([max_batch][depth][T][T] floats), allocating it on the first call:
 * states that never explain never hold it. Returns DEIT_OK or DEIT_ENOMEM. */
int explain_reserve(deit_state *s);

/* Called right after the softmax of head h of block l, for query rows [t0, t0+nq) of image b:
 * accumulates the probabilities into s->attn (the head sum; the mean's 1/H is applied in double
 * at rollout). Rows are owned by one thread, so no synchronisation is needed. */
void explain_capture(deit_state *s, int b, int l, int h, int t0, int nq, const float *probs);

/* After the pass and the final norm: rollout maps and token cosine for each image with
 * ex[b].class_map set. */
void explain_finish(const deit_state *s, int batch, deit_explain *ex);

#endif
