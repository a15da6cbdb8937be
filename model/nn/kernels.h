/* kernels.h — the numeric leaf functions of the forward pass (row-major float32, no allocation). */
#ifndef DEIT_KERNELS_H
#define DEIT_KERNELS_H

#include <stddef.h>

#include "gemm.h"

/* Each kernel takes the model's kernel set (gemm_isa) and runs its widest body within it, so a
 * model opened with isa "generic" runs no vector extension the caller ruled out. */

/* y[n,:] = (x[n,:] - mean) / sqrt(var + eps) * g + b   over rows of width d (y may alias x).
 * Mean and variance are accumulated in double so the result does not depend on row length. */
void k_layernorm(gemm_isa isa, const float *x, int n, int d, const float *g, const float *b, float eps,
                 float *y);

/* x = 0.5 * x * (1 + erf(x / sqrt(2)))  in place: the exact (erf) GELU, not the tanh one. */
void k_gelu(gemm_isa isa, float *x, size_t n);

/* Each of n rows of width d: x = softmax(x), max-subtracted. */
void k_softmax_rows(gemm_isa isa, float *x, int n, int d);

/* y += x, elementwise. */
void k_add(float *y, const float *x, size_t n);

#endif
