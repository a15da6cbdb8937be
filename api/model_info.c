/* model_info.c — the served model's description for the API, from the engine's public header. */
#include "model_info.h"

static const char *dtype_name(st_dtype t)
{
    switch (t) {
    case ST_F32: return "F32";
    case ST_F16: return "F16";
    case ST_BF16: return "BF16";
    default: return "other";
    }
}

void api_model_of(const deit_model *m, const char *name, const char *version, api_model *out)
{
    const deit_config *c = deit_model_config(m);
    *out = (api_model){name, c->architecture, dtype_name(c->dtype), c->image_h, c->image_w, c->in_chans,
                       c->patch, c->dim, c->depth, c->heads, c->n_classes, c->distilled,
                       (const char *const *)c->labels, version, deit_learned_token_cosine(m),
                       c->pre.resize == RESIZE_EXACT, c->pre.resize_short, c->pre.resize_w, c->pre.resize_h};
    if (!c->pre.do_resize) { /* no resize: the crop is cut from the image as it is */
        out->resize_exact = 0;
        out->resize_short = 0;
    }
}

const char *api_model_version(const api_model *m) { return m->version ? m->version : "1"; }
