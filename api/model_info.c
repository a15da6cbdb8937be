/* model_info.c — the served model's description for the API, from the engine's public header. */
#include <stdio.h>

#include "model_info.h"

void api_model_of(const deit_model *m, const char *name, const char *version, api_model *out)
{
    deit_shape sh = deit_model_shape(m);
    *out = (api_model){name, deit_model_architecture(m), deit_model_dtype(m), sh.image_h, sh.image_w,
                       sh.in_chans, sh.patch, sh.dim, sh.depth, sh.heads, deit_model_classes(m),
                       deit_model_distilled(m), deit_model_labels(m), version, deit_learned_token_cosine(m),
                       deit_model_resize(m),
                       deit_precision_name(deit_model_precision(m)), deit_model_isa(m),
                       deit_model_second_token(m), deit_explain_bytes(m)};
}

const char *api_model_version(const api_model *m) { return m->version ? m->version : "1"; }

int api_explain_refused(const api_model *m, char *why, size_t why_len)
{
    if (m->explain_bytes <= DEIT_MAX_EXPLAIN_PASS_BYTES)
        return 0;
    if (why && why_len)
        snprintf(why, why_len, "an explained image keeps %zu MiB of attention (blocks x tokens^2), over the "
                 "limit of %zu MiB", m->explain_bytes >> 20, DEIT_MAX_EXPLAIN_PASS_BYTES >> 20);
    return 1;
}
