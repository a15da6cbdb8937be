/* deit.h — the DeiT inference engine: load a checkpoint, preprocess images, run batched forward
 * passes, read class-head / distillation-head / fused predictions.
 *
 * Usage:
 *   char err[512];
 *   deit_model *m;
 *   if (deit_model_open("models/fashion", &m, err, sizeof err)) { puts(err); ... }
 *   const deit_config *c = deit_model_config(m);
 *   deit_state *s = deit_state_new_threads(m, max_batch, 2);  // one per worker; 2 threads share each pass
 *   float *x = malloc(B * deit_input_floats(m) * sizeof(float));
 *   for each image i: deit_preprocess(m, bytes, len, max_pixels, x + i * deit_input_floats(m), err, sizeof err);
 *   float *cls = malloc(B * c->n_classes * sizeof(float)), *dist = ...;
 *   deit_forward(m, s, x, B, cls, dist);                     // logits
 *   deit_fuse(cls + i*K, dist + i*K, K, c->distilled, probs_cls, probs_dist, probs_fused);
 *
 * Thread safety: a deit_model is immutable after deit_model_open and may be shared by any number of
 * threads. A deit_state is scratch memory (and a team of threads) for one caller at a time.
 * deit_preprocess is reentrant.
 *
 * Threads: deit_forward parallelises itself with the state's own team (deit_state_new_threads) and
 * runs its matrix products on the engine's packed AVX-512 / AVX2 kernels, not on BLAS; the caller
 * decides the split (states x threads per state <= cores). DEIT_ISA=avx2|generic in the
 * environment narrows the kernels chosen at deit_model_open (for tests of the baseline path).
 */
#ifndef DEIT_H
#define DEIT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "status.h"

typedef struct deit_model deit_model;
typedef struct deit_state deit_state;

/* Opens a model directory (config.json + model.safetensors [+ preprocessor_config.json]), a
 * .safetensors file (config inferred from the tensors, or from config.json beside it if present), or
 * "builtin:NAME", a model compiled into the binary (hub.h; hub ids are resolved to a directory there).
 * Returns DEIT_OK or a DEIT_E* status with a message naming the file/tensor/field. */
int deit_model_open(const char *path, deit_model **out, char *err, size_t errlen);
void deit_model_free(deit_model *m);

/* Resolved configuration; owned by the model, valid until deit_model_free. */
const deit_config *deit_model_config(const deit_model *m);

/* Floats in one preprocessed input image: in_chans * image_h * image_w. */
size_t deit_input_floats(const deit_model *m);

/* Scratch for batches of up to max_batch images (>= 1) and a team of n_threads (1..64) that share
 * every deit_forward on this state: the calling thread plus n_threads-1 persistent workers owned by
 * the state (they sleep between passes). Each thread takes a contiguous share of the batch's token
 * rows, so even batch 1 uses all of them. Pick workers x n_threads <= cores. NULL on allocation or
 * thread-creation failure. deit_state_free joins the workers; deit_state_free(NULL) is a no-op. */
deit_state *deit_state_new_threads(const deit_model *m, int max_batch, int n_threads);
/* Same as deit_state_new_threads(m, max_batch, 1): the forward runs on the calling thread only. */
deit_state *deit_state_new(const deit_model *m, int max_batch);
void deit_state_free(deit_state *s);
/* The state's team size (0 for NULL). */
int deit_state_threads(const deit_state *s);

/* Decodes and preprocesses one encoded image with the model's own pipeline into
 * out[deit_input_floats(m)]. Errors as image_decode (DEIT_EINVAL / DEIT_ETOOBIG / DEIT_EUNSUPPORTED). */
int deit_preprocess(const deit_model *m, const uint8_t *data, size_t len, size_t max_pixels,
                    float *out, char *err, size_t errlen);

/* Forward pass for `batch` images (1..max_batch of the state). pixels: [batch][deit_input_floats].
 * cls_logits, dist_logits: [batch][n_classes]; dist_logits may be NULL, and for a non-distilled
 * model receives a copy of the class logits. Returns DEIT_OK or DEIT_EINVAL for a bad batch size. */
int deit_forward(const deit_model *m, deit_state *s, const float *pixels, int batch,
                 float *cls_logits, float *dist_logits);

/* Optional: activations of the last forward pass for image 0 ("patch_embed", "block<N>",
 * "final_norm"), for parity debugging; NULL when not recorded. Recording is enabled per state. */
void deit_state_trace(deit_state *s, int enable);
const float *deit_state_trace_get(const deit_state *s, const char *name, int *rows, int *cols);

/* probs = softmax(logits) computed in double and stored as float. */
void deit_softmax(const float *logits, int n, float *probs);

/* Late fusion of the paper: fused = (softmax(cls) + softmax(dist)) / 2. For a non-distilled model
 * (distilled == 0) dist is ignored, p_dist copies p_cls and fused = p_cls. Any output may be NULL. */
void deit_fuse(const float *cls_logits, const float *dist_logits, int n, int distilled,
               float *p_cls, float *p_dist, float *p_fused);

/* Indices of the k largest scores in descending order (ties: lower index first). k is clamped
 * to n; returns the number written. */
int deit_topk(const float *scores, int n, int k, int *idx);

/* Sets OpenBLAS's process-wide thread count (no-op where the BLAS has no such call). deit_forward
 * no longer calls BLAS, so this only matters to other BLAS users in the process; set it to 1 when
 * states run several threads. */
void deit_set_blas_threads(int n);

#endif
