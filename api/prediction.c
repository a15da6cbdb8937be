/* prediction.c — logits → top-k JSON for the class head, the distillation head and their fusion. */
#include "prediction.h"

#include <stdlib.h>

#include "deit.h"

/* [{index, label, score}…] for the top_k entries of probs. */
static json_t *topk_json(const api_model *c, const float *probs, int top_k, int *idx)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    int n = deit_topk(probs, c->n_classes, top_k, idx);
    for (int i = 0; i < n; i++) {
        json_t *o = json_pack("{s:i, s:s, s:f}", "index", idx[i], "label", c->labels[idx[i]],
                              "score", (double)probs[idx[i]]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *floats_json(const float *v, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_real((double)v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

json_t *api_prediction_json(const api_model *c, const float *cls_logits, const float *dist_logits,
                            int top_k, int with_logits)
{
    int K = c->n_classes;
    if (top_k < 1)
        top_k = 1;
    if (top_k > K)
        top_k = K;
    if (!dist_logits)
        dist_logits = cls_logits;
    float *buf = malloc(3 * (size_t)K * sizeof(float));
    int *idx = malloc((size_t)top_k * sizeof(int));
    json_t *o = json_object();
    if (!buf || !idx || !o)
        goto fail;
    float *pc = buf, *pd = buf + K, *pf = buf + 2 * (size_t)K;
    deit_fuse(cls_logits, dist_logits, K, c->distilled, pc, pd, pf);
    int top_c, top_d;
    deit_topk(pc, K, 1, &top_c);
    deit_topk(pd, K, 1, &top_d);
    /* A model without a distillation token has one head: its distillation fields are null
     * rather than absent, so clients see the same keys from every model. */
    int two = c->distilled;
    if (json_object_set_new(o, "class_head", topk_json(c, pc, top_k, idx)) != 0 ||
        json_object_set_new(o, "distill_head", two ? topk_json(c, pd, top_k, idx) : json_null()) != 0 ||
        json_object_set_new(o, "fused", topk_json(c, pf, top_k, idx)) != 0 ||
        json_object_set_new(o, "heads_agree", two ? json_boolean(top_c == top_d) : json_null()) != 0)
        goto fail;
    if (with_logits &&
        (json_object_set_new(o, "class_logits", floats_json(cls_logits, K)) != 0 ||
         json_object_set_new(o, "distill_logits", two ? floats_json(dist_logits, K) : json_null()) != 0))
        goto fail;
    free(buf);
    free(idx);
    return o;
fail:
    json_decref(o);
    free(buf);
    free(idx);
    return NULL;
}
