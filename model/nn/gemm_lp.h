/* gemm_lp.h — bf16 and int8 matrix products over packed low-precision weights, with gemm.h's epilogues.
 *
 * Same contract as gemm():  C[m,n] = epi(A[m,k] @ B[k,n] + bias[n])  with B = W^T packed once at
 * load, but A and B are stored narrow and the products accumulate in f32 (bf16) or s32 (int8):
 *
 * bf16: A rows are rounded to bf16 (round to nearest even) by gemm_bf16_round_rows as they enter;
 *   B is packed in GEMM_PANEL-column panels of k pairs, packed[p][kk/2][j][kk%2] = bf16(W[p*16+j][kk]),
 *   so one vdpbf16ps multiplies a broadcast pair of A by 16 columns x 2 k. k is padded to even
 *   with zeros in both.
 * int8: W is quantized symmetrically per output channel (scale[j] = max|W[j,:]| / 127, values in
 *   -127..127), packed in panels of k quads, packed[p][kk/4][j][kk%4]; colsum[j] = sum_kk q[j][kk].
 *   Each A row is quantized on its own (gemm_u8_quant_rows): asymmetric u8, a = sa * (q - zp), range
 *   widened to include 0 so zero is exact. vpdpbusd accumulates sum q_a * q_w in s32 exactly and the
 *   epilogue dequantizes:  C = sa * sw[j] * (acc - zp * colsum[j]) + bias[j], then GELU / residual.
 *   One row's result depends only on that row: an image's answer does not depend on its batch.
 *
 * Kernels exist for AVX-512 only (AVX512_BF16 for bf16, AVX512_VNNI for int8; lp_isa_missing says
 * which is absent). No allocation, no threads: callers split rows and own the A scratch.
 */
#ifndef DEIT_GEMM_LP_H
#define DEIT_GEMM_LP_H

#include <stddef.h>
#include <stdint.h>

#include "gemm.h"

typedef enum { LP_BF16 = 1, LP_INT8 = 2 } lp_kind;

/* NULL when this CPU, with the kernel set narrowed to isa (bf16 and int8 need GEMM_ISA_AVX512),
 * runs `kind` on its native instructions; otherwise the name of the missing instruction set, for
 * an error message. */
const char *lp_isa_missing(gemm_isa isa, lp_kind kind);

/* k rounded up to the pair (bf16) or quad (int8) the kernels consume per step. */
static inline int lp_kpad(lp_kind kind, int k) { return kind == LP_BF16 ? (k + 1) & ~1 : (k + 3) & ~3; }

/* Elements (uint16_t for bf16, int8_t for int8) of a packed B with n columns and k rows. */
size_t lp_packed_elems(lp_kind kind, int n, int k);

/* bf16(x), round to nearest even (NaN stays NaN). */
uint16_t lp_bf16_round(float x);

/* Packs B = W^T from W[n][k] (row stride ldw) as bf16 into dst (lp_packed_elems(LP_BF16, n, k)
 * elements; padding written as zeros). */
void gemm_bf16_pack_t(const float *w, size_t ldw, int n, int k, uint16_t *dst);

/* Rounds m rows of A[m][k] (stride lda floats) to bf16 into dst (row stride ldd elements, >= the
 * even-padded k; the pad element is written as zero). */
void gemm_bf16_round_rows(const float *a, size_t lda, int m, int k, uint16_t *dst, size_t ldd);

/* The same with every element multiplied by scale before rounding (attention's 1/sqrt(head_dim)). */
void gemm_bf16_round_rows_scaled(const float *a, size_t lda, int m, int k, float scale,
                                 uint16_t *dst, size_t ldd);

/* Writes columns n0..n1-1 of a packed bf16 B = W^T (k rows) from rows n0..n1-1 of W (stride ldw),
 * so callers owning disjoint rows fill one pack together (attention's K^T). Nothing else of dst is
 * written: its padding must be zero already. */
void gemm_bf16_pack_t_rows(const float *w, size_t ldw, int k, int n0, int n1, uint16_t *dst);

/* Writes rows k0..k1-1 of a packed bf16 B[k][n] from B (stride ldb), as above (attention's V). */
void gemm_bf16_pack_n_rows(const float *b, size_t ldb, int n, int k, int k0, int k1, uint16_t *dst);

/* C = epi(A @ B + bias) with A from gemm_bf16_round_rows (stride lda elements) and B packed. */
void gemm_bf16(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi);

/* The same with C rounded to bf16 (stride ldc elements) as it is stored, for a product whose output
 * is only the next product's input (fc1 -> fc2, attention -> proj). epi is GEMM_STORE or GEMM_GELU;
 * for an odd n the pad element C[i][n] is written as zero. */
void gemm_bf16_out16(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
                     const float *bias, uint16_t *c, size_t ldc, gemm_epilogue epi);

/* Quantizes W[n][k] per output channel and packs it into dst (lp_packed_elems(LP_INT8, n, k)),
 * scale[n] and colsum[n] (padding columns: zeros). */
void gemm_s8_pack_t(const float *w, size_t ldw, int n, int k, int8_t *dst, float *scale,
                    int32_t *colsum);

/* Quantizes m rows of A[m][k] (stride lda floats) to u8 into dst (row stride ldd >= k padded to 4;
 * the pad written as zero), with each row's scale and zero point. A row that is not finite gets
 * scale NaN, so its outputs are NaN as in f32, not silently wrong numbers. */
void gemm_u8_quant_rows(const float *a, size_t lda, int m, int k, uint8_t *dst, size_t ldd,
                        float *scale, int32_t *zp);

/* C = epi(dequant(A @ B) + bias) with A from gemm_u8_quant_rows and B from gemm_s8_pack_t. */
void gemm_int8(int m, int n, int k, const uint8_t *a, size_t lda, const float *ascale,
               const int32_t *azp, const int8_t *bp, const float *bscale, const int32_t *bcolsum,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi);

#endif
