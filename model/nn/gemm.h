/* gemm.h — the forward pass's matrix products over a packed right-hand side, with fused epilogues.
 *
 * Every product the engine runs has the form  C[m,n] = epi(alpha * A[m,k] @ B[k,n] + bias[n])  where
 * A is a row-major activation block (any row stride) and B is "packed" for the kernel set (isa):
 *  - own kernels (avx512, avx2, generic): cut into panels of GEMM_PANEL columns, each stored
 *    k-major, i.e.  packed[p][kk][j] = B[kk][p*GEMM_PANEL + j]  (columns past n are padding); one
 *    layout for all three, so a model packed once serves each of them;
 *  - blas: B^T row-major, packed[j][kk] = B[kk][j], which for a linear layer's B = W^T is the
 *    checkpoint's own W[out][in], so the loaded weights need no copy.
 * Linear weights W[out][in] are packed once at model load (B = W^T); attention packs K^T and V per
 * forward.
 *
 * Kernels: AVX-512F (16-float lanes, 12x32 register tile), AVX2+FMA (6x16), portable C, and
 * OpenBLAS's sgemm (gemm_blas.c), chosen at run time (gemm_isa_detect, narrowed by the model's
 * parameters). No allocation, no threads: callers split rows between threads (OpenBLAS runs one
 * thread per call, see gemm_blas.c). The own kernels accumulate in float32 along k, in order, like
 * a reference dot product; no fast-math. OpenBLAS orders its sums by its own blocking, which
 * depends on a row's place among the call's rows (last-bit differences across batch makeups).
 */
#ifndef DEIT_GEMM_H
#define DEIT_GEMM_H

#include <stddef.h>

#define GEMM_PANEL 16

typedef enum {
    GEMM_ISA_GENERIC = 0,      /* portable C */
    GEMM_ISA_AVX2 = 1,         /* AVX2 + FMA: the baseline x86-64 path */
    GEMM_ISA_AVX512 = 2,       /* AVX-512F, only where the CPU reports it */
    GEMM_ISA_BLAS = 3,         /* OpenBLAS sgemm: the fast path where none of ours applies (no AVX2,
                                * arm64), where OpenBLAS has tuned kernels and portable C is slow */
} gemm_isa;

typedef enum {
    GEMM_STORE = 0,            /* C  = alpha*A@B + bias */
    GEMM_ADD = 1,              /* C += alpha*A@B + bias   (residual connection) */
    GEMM_GELU = 2,             /* C  = gelu(alpha*A@B + bias), exact erf GELU */
} gemm_epilogue;

/* Best kernel set this CPU supports: avx512, else avx2, else blas (OpenBLAS beats portable C there:
 * bench/README.md). The caller narrows it (deit_params.isa, $DEIT_ISA) to any set the CPU runs
 * (gemm_isa_runs); it is never widened past what the CPU has. */
gemm_isa gemm_isa_detect(void);
const char *gemm_isa_name(gemm_isa isa);
/* "avx512" "avx2" "generic" "blas" -> *out; 0 ok, -1 for any other name (NULL included). */
int gemm_isa_parse(const char *name, gemm_isa *out);
/* 1 when this CPU runs isa: generic and blas everywhere, avx2 / avx512 where the CPU has them. */
int gemm_isa_runs(gemm_isa isa);
/* 1 when isa reads B in GEMM_PANEL panels (the own kernels), 0 for B^T rows (blas). */
int gemm_isa_packs(gemm_isa isa);

/* Floats of a packed B with n columns and k rows, for any isa: n rounded up to GEMM_PANEL, times k. */
size_t gemm_packed_floats(int n, int k);

/* Packs B = W^T from W[n][k] (row stride ldw) for the rows n0..n1-1 of W (columns of B) into dst,
 * a packed B of n columns for isa. Panel padding columns are left untouched (their products are
 * never stored). */
void gemm_pack_t(gemm_isa isa, const float *w, size_t ldw, int n, int k, int n0, int n1, float *dst);

/* Packs B[k][n] (row stride ldb) for the rows k0..k1-1 of B into dst, a packed B of n columns for isa. */
void gemm_pack_n(gemm_isa isa, const float *b, size_t ldb, int n, int k, int k0, int k1, float *dst);

/* C[m,n] = epi(alpha * A[m,k] @ B[k,n] + bias[n]) with B packed (gemm_pack_*). bias may be NULL.
 * A rows are lda floats apart, C rows ldc; only the m x n block of C is read or written. */
void gemm(gemm_isa isa, int m, int n, int k, float alpha, const float *a, size_t lda,
          const float *bp, const float *bias, float *c, size_t ldc, gemm_epilogue epi);

/* The blas backend of gemm (gemm_blas.c): bt is B^T, n rows of k floats. */
void gemm_blas(int m, int n, int k, float alpha, const float *a, size_t lda, const float *bt,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi);
/* Makes OpenBLAS run each call on the calling thread only (process-wide; idempotent). */
void gemm_blas_single_thread(void);

#endif
