/* gemm.h — the forward pass's matrix products over a packed right-hand side, with fused epilogues.
 *
 * Every product the engine runs has the form  C[m,n] = epi(alpha * A[m,k] @ B[k,n] + bias[n])  where
 * A is a row-major activation block (any row stride) and B is "packed": cut into panels of
 * GEMM_PANEL columns, each stored k-major, i.e.  packed[p][kk][j] = B[kk][p*GEMM_PANEL + j]
 * (columns past n are padding). Linear weights W[out][in] are packed once at model load (B = W^T);
 * attention packs K^T and V per forward. The layout does not depend on the ISA, so a model packed
 * once serves every kernel below.
 *
 * Kernels: AVX-512F (16-float lanes, 12x32 register tile), AVX2+FMA (6x16), and portable C, chosen at
 * run time (gemm_isa_detect, narrowed by the model's parameters). No allocation, no threads: callers split rows between threads.
 * Accumulation is in float32 along k, in order, like a reference dot product; no fast-math.
 */
#ifndef DEIT_GEMM_H
#define DEIT_GEMM_H

#include <stddef.h>

#define GEMM_PANEL 16

typedef enum {
    GEMM_ISA_GENERIC = 0,      /* portable C */
    GEMM_ISA_AVX2 = 1,         /* AVX2 + FMA: the baseline x86-64 path */
    GEMM_ISA_AVX512 = 2,       /* AVX-512F, only where the CPU reports it */
} gemm_isa;

typedef enum {
    GEMM_STORE = 0,            /* C  = alpha*A@B + bias */
    GEMM_ADD = 1,              /* C += alpha*A@B + bias   (residual connection) */
    GEMM_GELU = 2,             /* C  = gelu(alpha*A@B + bias), exact erf GELU */
} gemm_epilogue;

/* Best kernel set this CPU supports. The caller narrows it (deit_params.isa, $DEIT_ISA); it is
 * never widened past this. */
gemm_isa gemm_isa_detect(void);
const char *gemm_isa_name(gemm_isa isa);
/* "avx512" "avx2" "generic" -> *out; 0 ok, -1 for any other name (NULL included). */
int gemm_isa_parse(const char *name, gemm_isa *out);

/* Floats of a packed B with n columns and k rows: n rounded up to GEMM_PANEL, times k. */
size_t gemm_packed_floats(int n, int k);

/* Packs B = W^T from W[n][k] (row stride ldw) for the rows n0..n1-1 of W (columns of B) into dst,
 * a packed B of n columns. Padding columns are left untouched (their products are never stored). */
void gemm_pack_t(const float *w, size_t ldw, int n, int k, int n0, int n1, float *dst);

/* Packs B[k][n] (row stride ldb) for the rows k0..k1-1 of B into dst, a packed B of n columns. */
void gemm_pack_n(const float *b, size_t ldb, int n, int k, int k0, int k1, float *dst);

/* Repacks a linear weight W[out][in] in place into the packed form of W^T. Requires
 * out % GEMM_PANEL == 0 (so the packed size is the same); tmp holds out*in floats. */
void gemm_pack_weight_inplace(float *w, int out, int in, float *tmp);

/* C[m,n] = epi(alpha * A[m,k] @ B[k,n] + bias[n]) with B packed (gemm_pack_*). bias may be NULL.
 * A rows are lda floats apart, C rows ldc; only the m x n block of C is read or written. */
void gemm(gemm_isa isa, int m, int n, int k, float alpha, const float *a, size_t lda,
          const float *bp, const float *bias, float *c, size_t ldc, gemm_epilogue epi);

#endif
