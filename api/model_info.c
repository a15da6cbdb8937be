/* model_info.c — the served model's description for the API, from the engine's public header. */
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
