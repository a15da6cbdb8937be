/* model_info.h — what the API says about the served model (names, shapes, labels), read once from the
 * engine through its public header so that no endpoint reaches into the engine's internals. */
#ifndef DEIT_API_MODEL_INFO_H
#define DEIT_API_MODEL_INFO_H

#include "deit.h"

/* Pointers are borrowed from the engine's model (or the caller) and live as long as it does. */
typedef struct {
    const char *name;          /* what clients call the model (URL segment of /predictions and /v2/models) */
    const char *architecture;  /* e.g. deit_tiny_distilled_patch16_224; "" if unknown */
    const char *dtype;         /* stored weight dtype: "F32", "F16", "BF16" */
    int image_h, image_w, in_chans, patch, dim, depth, heads, n_classes, distilled;
    const char *const *labels; /* [n_classes] */
    const char *version;       /* the one version served (--model-version); NULL reads as "1" */
    double learned_token_cosine; /* cls_token vs dist_token parameters; NaN without a dist token */
    deit_resize resize;        /* preprocessing before the centre crop to image_w x image_h */
    const char *precision;     /* numeric precision of the forward pass: "f32", "bf16", "int8" */
    const char *isa;           /* GEMM kernel set: "avx512", "avx2", "generic", "blas" */
    const char *second_token;  /* "distillation", "class" (two class tokens) or NULL (one head);
                                * `distilled` is 1 for both two-head kinds (both heads are fused) */
    size_t explain_bytes;      /* attention an explained image keeps (deit_explain_bytes) */
} api_model;

/* Fills out from an open model. name and version are borrowed (version NULL: "1"). */
void api_model_of(const deit_model *m, const char *name, const char *version, api_model *out);

/* 1 when the model's images cannot be explained (an explained image would keep more attention than
 * the engine's DEIT_MAX_EXPLAIN_PASS_BYTES), with the reason in why; 0 when they can. The one rule
 * behind the 400 of /v1/predict?explain=1, /v1/models' "explain" and deit-predict --explain. */
int api_explain_refused(const api_model *m, char *why, size_t why_len);

/* The served version, never NULL. */
const char *api_model_version(const api_model *m);

#endif
