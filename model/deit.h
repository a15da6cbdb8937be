/* deit.h — the DeiT inference engine: load a checkpoint, preprocess images, run batched forward
 * passes, read class-head / distillation-head / fused predictions.
 *
 * Usage:
 *   char err[512];
 *   deit_model *m;
 *   deit_params p = deit_default_params();
 *   p.threads = 2; p.max_batch = B;                 // 2 threads share each pass of a state
 *   if (deit_model_open_with("models/fashion-deit", &p, &m, err, sizeof err)) { puts(err); ... }
 *   deit_state *s = deit_state_new_with(m, &p);     // one per worker
 *   int K = deit_model_classes(m);
 *   size_t n = deit_input_floats(m);
 *   float *x = malloc(B * n * sizeof(float)), *cls = malloc(B * K * sizeof(float)), *dist = ...;
 *   for each image i:
 *       if (deit_preprocess(m, bytes, len, max_pixels, x + i * n, err, sizeof err)) { 4xx ... }
 *   deit_forward(m, s, x, B, cls, dist);            // logits, [B][K] each
 *   deit_fuse(cls + i * K, dist + i * K, K, deit_model_distilled(m), p_cls, p_dist, p_fused);
 *   deit_state_free(s);
 *   deit_model_free(m);
 *
 * Thread safety: a deit_model is immutable after deit_model_open and may be shared by any number of
 * threads. A deit_state is scratch memory (and a team of threads) for one caller at a time.
 * deit_preprocess is reentrant.
 *
 * Threads: deit_forward parallelises itself with the state's own team (deit_params.threads) and runs
 * its matrix products on the engine's packed AVX-512 / AVX2 kernels, or on OpenBLAS (one thread per
 * call) on CPUs without AVX2 and on arm64; the caller decides the split (states x threads per
 * state <= cores). deit_params.isa (or $DEIT_ISA) picks the kernel set.
 */
#ifndef DEIT_H
#define DEIT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct deit_model deit_model;
typedef struct deit_state deit_state;

/* Longest class label accepted from a config, in bytes (without the NUL). */
#define DEIT_MAX_LABEL_BYTES 1024

/* ---- parameters ------------------------------------------------------------------------------ */

/* Numeric precision of the forward pass's matrix products. F32 everywhere by default. BF16: the
 * linear layers' weights and inputs rounded to bfloat16, f32 accumulation (AVX512_BF16). INT8:
 * weights int8 per output channel, each input row quantized to u8 on its own, s32 accumulation
 * (AVX512_VNNI). LayerNorm, softmax, GELU, attention, residuals and the heads stay f32 in both.
 * Opening at a precision the CPU (or the chosen isa) cannot run natively fails with
 * DEIT_EUNSUPPORTED naming the missing instruction set. */
typedef enum { DEIT_PRECISION_F32 = 0, DEIT_PRECISION_BF16, DEIT_PRECISION_INT8 } deit_precision;

/* How a model is opened and how its states are made. Start from deit_default_params() and change
 * fields, so that fields added later keep their defaults. */
typedef struct deit_params {
    deit_precision precision; /* DEIT_PRECISION_F32 by default */
    const char *isa;          /* NULL: best for this CPU ($DEIT_ISA narrows it); "avx512" "avx2" "generic" "blas" */
    int threads;              /* threads per deit_state, default 1 */
    int max_batch;            /* images per forward pass of a deit_state, default 1 */
} deit_params;

deit_params deit_default_params(void);
/* "f32" "bf16" "int8"; "unknown" for a value outside the enum. */
const char *deit_precision_name(deit_precision p);
/* The inverse of deit_precision_name (exact, lower case): 0 ok, -1 unknown (or NULL). */
int deit_precision_parse(const char *s, deit_precision *out);

/* ---- model ----------------------------------------------------------------------------------- */

/* Opens a model directory (config.json + model.safetensors [+ preprocessor_config.json]), a
 * .safetensors file (with the config.json beside it, or without one: then timm's standard ViT/DeiT
 * of its width, the number of heads being the one size the tensors do not give), or
 * "builtin:NAME", a model compiled into the binary (hub.h; hub ids are resolved to a directory there).
 * Returns DEIT_OK or a DEIT_E* status with a message naming the file/tensor/field. */
int deit_model_open(const char *path, deit_model **out, char *err, size_t errlen);
/* deit_model_open with parameters (NULL: deit_default_params()). An isa or precision this build or
 * this CPU cannot run is an error (DEIT_EINVAL for an unknown name, DEIT_EUNSUPPORTED otherwise), never
 * a silent fallback. With isa NULL, $DEIT_ISA=avx2|generic narrows the CPU's best kernel set (never
 * widens it; other values are ignored), for tests of the baseline path. */
int deit_model_open_with(const char *path, const deit_params *p, deit_model **out, char *err,
                         size_t errlen);
void deit_model_free(deit_model *m);

/* ---- what an open model is (strings owned by the model, valid until deit_model_free) --------- */

/* The name (directory basename, or the file stem) and architecture (timm's architecture or
 * transformers' architectures[0]; "" when the config names none). */
const char *deit_model_name(const deit_model *m);
const char *deit_model_architecture(const deit_model *m);
/* The checkpoint's stored weight dtype: "F32", "F16" or "BF16" (computation runs at
 * deit_model_precision whatever it is). */
const char *deit_model_dtype(const deit_model *m);
/* Classes K of each head (logits per image per head), and 1 when the model has a second head on
 * its distillation token (0: one head, on token 0; deit_forward's dist_logits then copy the class
 * logits). transformers' DeiTForImageClassification is a one-head model: its distillation token
 * takes part in attention, but no head reads it. */
int deit_model_classes(const deit_model *m);
int deit_model_distilled(const deit_model *m);
/* What the second prefix token (and the second head) of a two-head model is: "distillation"
 * (DeiT), or "class" (a second class token, the paper's control experiment; its config.json says
 * "second_token": "class"); NULL for a one-head model. Both are computed and fused alike. */
const char *deit_model_second_token(const deit_model *m);
/* The K class names in head order, never NULL (from the config, ImageNet's for 1000 classes, else
 * "class_<i>"). */
const char *const *deit_model_labels(const deit_model *m);

/* The sizes an open model was resolved to. */
typedef struct {
    int image_h, image_w;      /* the input the network takes (deit_preprocess's output) */
    int in_chans;              /* 1 or 3 */
    int patch;                 /* square patch side */
    int dim, depth, heads;     /* embedding width, transformer blocks, attention heads */
} deit_shape;
deit_shape deit_model_shape(const deit_model *m);

/* How deit_preprocess resizes before its centre crop to image_w x image_h (for a client that draws
 * over the same crop). */
typedef enum {
    DEIT_RESIZE_NONE,          /* the crop is cut from the image as it is */
    DEIT_RESIZE_SHORTEST_SIDE, /* the shorter side to short_side, aspect kept (torchvision Resize(int)) */
    DEIT_RESIZE_EXACT,         /* to width x height (timm's crop_mode 'squash') */
    DEIT_RESIZE_KEEP_RATIO     /* aspect kept, scaled by max(width / w, height / h), each side rounded
                                  half to even (timm's non-square inputs) */
} deit_resize_mode;
typedef struct {
    deit_resize_mode mode;
    int short_side;            /* DEIT_RESIZE_SHORTEST_SIDE's target; 0 otherwise */
    int width, height;         /* DEIT_RESIZE_EXACT's size, DEIT_RESIZE_KEEP_RATIO's box; 0 otherwise */
} deit_resize;
deit_resize deit_model_resize(const deit_model *m);

/* Floats in one preprocessed input image: in_chans * image_h * image_w. */
size_t deit_input_floats(const deit_model *m);

/* The kernel set ("avx512" "avx2" "generic") and precision the model was opened with. */
const char *deit_model_isa(const deit_model *m);
deit_precision deit_model_precision(const deit_model *m);

/* ---- forward passes -------------------------------------------------------------------------- */

/* Scratch for batches of up to p->max_batch images (1..1024) and a team of p->threads (1..64) that
 * share every deit_forward on this state: the calling thread plus threads-1 persistent workers owned
 * by the state (they sleep between passes). Each thread takes a contiguous share of the batch's
 * token rows, so even batch 1 uses all of them. Pick states x threads <= cores. p NULL means
 * deit_default_params(); p's precision and isa are the model's business (deit_model_open_with) and
 * ignored here. NULL on a bad parameter, allocation or thread-creation failure. deit_state_free
 * joins the workers; deit_state_free(NULL) is a no-op. */
deit_state *deit_state_new_with(const deit_model *m, const deit_params *p);
void deit_state_free(deit_state *s);
/* The state's team size (0 for NULL). */
int deit_state_threads(const deit_state *s);
/* How many of the team run the next passes: 1..deit_state_threads (clamped; the whole team at
 * creation). Results do not depend on it. A server makes each worker's team as wide as the machine
 * and narrows it while other workers are busy, so a lone request gets every core and a loaded
 * server still runs one narrow pass per worker. Not while a pass runs on the state. */
void deit_state_set_width(deit_state *s, int n);

/* Decodes and preprocesses one encoded image (JPEG, PNG, GIF, BMP, TIFF, WebP, TGA, PNM) with the
 * model's own pipeline (resize, centre crop, normalisation as the checkpoint's config says) into
 * out[deit_input_floats(m)]. An image over max_pixels (0: no limit) is refused from its header,
 * before decoding. Returns DEIT_OK, DEIT_EINVAL (undecodable), DEIT_ETOOBIG (over max_pixels) or
 * DEIT_EUNSUPPORTED (a format or variant not handled), with a message in err. */
int deit_preprocess(const deit_model *m, const uint8_t *data, size_t len, size_t max_pixels,
                    float *out, char *err, size_t errlen);
/* The same, with exif_transpose = 1 rotating/flipping the decoded image by its EXIF Orientation
 * first, as Pillow's ImageOps.exif_transpose (timm does not, so deit_preprocess does not). */
int deit_preprocess_with(const deit_model *m, const uint8_t *data, size_t len, size_t max_pixels,
                         int exif_transpose, float *out, char *err, size_t errlen);

/* Forward pass for `batch` images (1..max_batch of the state). pixels: [batch][deit_input_floats].
 * cls_logits, dist_logits: [batch][n_classes]; dist_logits may be NULL, and for a non-distilled
 * model receives a copy of the class logits. Returns DEIT_OK, DEIT_EINVAL for a bad batch size, or
 * DEIT_ENONFINITE when some logit is NaN or infinite (all outputs written all the same): finite
 * weights can still overflow float32 on some image, and JSON cannot carry the result. */
int deit_forward(const deit_model *m, deit_state *s, const float *pixels, int batch,
                 float *cls_logits, float *dist_logits);

/* ---- explanations ---------------------------------------------------------------------------- */

/* Explanations of one image (deit_forward_explain), all buffers caller-owned. */
typedef struct {
    float *class_map;          /* [grid_h*grid_w] or NULL: NULL means "not asked" for this image */
    float *distill_map;        /* [grid_h*grid_w] or NULL; left untouched for a one-head model */
    double token_cosine;       /* out: cosine of the class and distillation tokens after the final
                                  LayerNorm (what the two heads read); NAN for a one-head model */
} deit_explain;

/* deit_forward that also explains the images whose ex[b].class_map is set (ex: [batch], or NULL
 * for none, which is exactly deit_forward). Maps are attention rollout (Abnar & Zuidema 2020):
 * A_l = mean over heads of block l's softmax attention, R = prod_l (A_l + I)/2 (last block on the
 * left); class_map = R[0, prefix:], distill_map = R[1, prefix:], each summing to 1, patches
 * row-major over the deit_grid. Attention probabilities are kept only for those images, and only
 * during the pass: deit_explain_bytes(m) per explaining image, freed before it returns. A batch
 * that would keep more than DEIT_MAX_EXPLAIN_PASS_BYTES runs in smaller passes (same results).
 * Returns DEIT_OK; DEIT_EINVAL, DEIT_ENOMEM, or DEIT_ETOOBIG when one image alone needs more than
 * that limit (a failure: nothing computed, or for a batch run in smaller passes, not all of it);
 * or DEIT_ENONFINITE as deit_forward. */
int deit_forward_explain(const deit_model *m, deit_state *s, const float *pixels, int batch,
                         float *cls_logits, float *dist_logits, deit_explain *ex);

/* Attention an explained image keeps during its pass: depth * T^2 floats. Real models need little
 * (DeiT-B/16 at 384: 16 MiB, ViT-g/14 at 518: 300 MiB); a checkpoint of thousands of tokens can
 * need far more than memory, and is not explained (DEIT_ETOOBIG) over the limit below. */
size_t deit_explain_bytes(const deit_model *m);
#define DEIT_MAX_EXPLAIN_PASS_BYTES ((size_t)1 << 30)

/* Patch grid of the model's input (rows, columns): the shape of the explanation maps. */
void deit_grid(const deit_model *m, int *grid_h, int *grid_w);

/* Cosine of the learned cls_token and dist_token parameters; NAN for a one-head model. */
double deit_learned_token_cosine(const deit_model *m);

/* ---- trace (parity debugging) ---------------------------------------------------------------- */

/* Optional: activations of the last forward pass for image 0 ("patch_embed", "block<N>",
 * "final_norm"), for parity debugging; NULL when not recorded. Recording is enabled per state. */
void deit_state_trace(deit_state *s, int enable);
const float *deit_state_trace_get(const deit_state *s, const char *name, int *rows, int *cols);

/* ---- reading logits -------------------------------------------------------------------------- */

/* probs = softmax(logits) computed in double and stored as float. */
void deit_softmax(const float *logits, int n, float *probs);

/* Late fusion of the paper: fused = (softmax(cls) + softmax(dist)) / 2. For a non-distilled model
 * (distilled == 0) dist is ignored, p_dist copies p_cls and fused = p_cls. Any output may be NULL. */
void deit_fuse(const float *cls_logits, const float *dist_logits, int n, int distilled,
               float *p_cls, float *p_dist, float *p_fused);

/* Indices of the k largest scores in descending order (ties: lower index first). k is clamped
 * to n; returns the number written. */
int deit_topk(const float *scores, int n, int k, int *idx);

/* Sets OpenBLAS's process-wide thread count. A model on the OpenBLAS backend sets it to 1 at open
 * (the state's team does the threading), so this only matters to other BLAS users in the process. */
void deit_set_blas_threads(int n);

#endif
