/* gemm_lp.c — bf16 (vdpbf16ps) and int8 (vpdpbusd) packed-panel products with fused epilogues.
 *
 * Same blocking as gemm.c's AVX-512 kernel: a 12-row x 32-column tile in 24 zmm accumulators, all
 * of k per call, B streamed from two 16-column panels. A step consumes a k pair (bf16: 16 columns
 * x 2 products per instruction, twice the f32 FMA rate) or a k quad (int8: 4 products, s32 exact).
 * Each row's arithmetic is the same whatever tile it lands in, so results do not depend on the
 * batch or on how rows are split between threads.
 */
#include "gemm_lp.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LP_X86 1
#define T_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#include "gemm_epi.h"
#endif

#define INLINE static inline __attribute__((always_inline))

const char *lp_isa_missing(gemm_isa isa, lp_kind kind)
{
    const char *need = kind == LP_BF16 ? "AVX512_BF16 (vdpbf16ps)" : "AVX512_VNNI (vpdpbusd)";
#ifdef LP_X86
    if (isa != GEMM_ISA_AVX512 || !gemm_isa_runs(GEMM_ISA_AVX512))
        return need; /* isa avx2|generic|blas, or no AVX-512F */
    __builtin_cpu_init();
    if (kind == LP_BF16 ? !__builtin_cpu_supports("avx512bf16") : !__builtin_cpu_supports("avx512vnni"))
        return need;
    /* Both kernel sets also use AVX512BW (16-bit lanes and permutes) and AVX512VL (256-bit masked
     * stores, scatters). Every CPU with BF16 or VNNI has them, but a virtual machine's CPU model can
     * hide them: refused here, by name, rather than SIGILL at the first request. */
    if (!__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl"))
        return "AVX512BW and AVX512VL";
    return NULL;
#endif
    return need;
}

size_t lp_packed_elems(lp_kind kind, int n, int k)
{
    size_t np = ((size_t)n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL;
    return np * (size_t)lp_kpad(kind, k);
}

uint16_t lp_bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN, sign kept */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void gemm_bf16_pack_t(const float *w, size_t ldw, int n, int k, uint16_t *dst)
{
    int kp = lp_kpad(LP_BF16, k);
    memset(dst, 0, lp_packed_elems(LP_BF16, n, k) * sizeof *dst);
    for (int j = 0; j < n; j++) {
        uint16_t *d = dst + (size_t)(j / GEMM_PANEL) * kp * GEMM_PANEL + (size_t)(j % GEMM_PANEL) * 2;
        for (int kk = 0; kk < k; kk++)
            d[(size_t)(kk / 2) * GEMM_PANEL * 2 + kk % 2] = lp_bf16_round(w[(size_t)j * ldw + kk]);
    }
}

void gemm_s8_pack_t(const float *w, size_t ldw, int n, int k, int8_t *dst, float *scale,
                    int32_t *colsum)
{
    int kp = lp_kpad(LP_INT8, k);
    memset(dst, 0, lp_packed_elems(LP_INT8, n, k));
    for (int j = 0; j < n; j++) {
        const float *wr = w + (size_t)j * ldw;
        float amax = 0.0f;
        for (int kk = 0; kk < k; kk++)
            amax = fmaxf(amax, fabsf(wr[kk]));
        float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        int8_t *d = dst + (size_t)(j / GEMM_PANEL) * kp * GEMM_PANEL + (size_t)(j % GEMM_PANEL) * 4;
        int32_t sum = 0;
        for (int kk = 0; kk < k; kk++) {
            long q = lrintf(wr[kk] / s);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            d[(size_t)(kk / 4) * GEMM_PANEL * 4 + kk % 4] = (int8_t)q;
            sum += (int32_t)q;
        }
        scale[j] = s;
        colsum[j] = sum;
    }
}

#ifdef LP_X86
/* ---- activations in ------------------------------------------------------------------------- */

T_BF16 void gemm_bf16_round_rows_scaled(const float *a, size_t lda, int m, int k, float scale,
                                        uint16_t *dst, size_t ldd)
{
    int kp = lp_kpad(LP_BF16, k);
    __m512 sv = _mm512_set1_ps(scale);
    for (int i = 0; i < m; i++) {
        const float *ar = a + (size_t)i * lda;
        uint16_t *dr = dst + (size_t)i * ldd;
        for (int kk = 0; kk < kp; kk += 16) {
            int left = k - kk;
            __mmask16 lm = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            __mmask16 sm = kp - kk >= 16 ? 0xffff : (__mmask16)((1u << (kp - kk)) - 1);
            __m256bh h = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_maskz_loadu_ps(lm, ar + kk), sv));
            _mm256_mask_storeu_epi16(dr + kk, sm, (__m256i)h);
        }
    }
}

/* x * 1.0f is exact, so this is the plain rounding. */
void gemm_bf16_round_rows(const float *a, size_t lda, int m, int k, uint16_t *dst, size_t ldd)
{
    gemm_bf16_round_rows_scaled(a, lda, m, k, 1.0f, dst, ldd);
}

/* Column j of a packed B sits at panel j/16, lane j%16: element (kk, j) at
 * (j/16)*kp*16 + (kk/2)*32 + (j%16)*2 + kk%2. For W^T the columns are W's rows: a row's k pairs are
 * 32-bit slots 64 bytes apart, written by one scatter per 16 values. */
T_BF16 void gemm_bf16_pack_t_rows(const float *w, size_t ldw, int k, int n0, int n1, uint16_t *dst)
{
    int kp = lp_kpad(LP_BF16, k);
    const __m256i stride = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    for (int j = n0; j < n1; j++) {
        const float *wr = w + (size_t)j * ldw;
        uint32_t *col = (uint32_t *)(dst + (size_t)(j / GEMM_PANEL) * kp * GEMM_PANEL) + j % GEMM_PANEL;
        for (int kk = 0; kk < k; kk += 16) {
            int left = k - kk;
            __mmask16 lm = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            int pairs = left >= 16 ? 8 : (left + 1) / 2; /* an odd k's last pair holds a zero */
            __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lm, wr + kk));
            _mm256_mask_i32scatter_epi32(col + (size_t)(kk / 2) * GEMM_PANEL, (__mmask8)((1u << pairs) - 1),
                                         stride, (__m256i)h, 4);
        }
    }
}

/* For B[k][n] itself, two consecutive rows (a k pair) of 16 columns interleave into 64 contiguous
 * bytes; a pair split between callers is written one half each (masked to its 16-bit lanes). */
T_BF16 void gemm_bf16_pack_n_rows(const float *b, size_t ldb, int n, int k, int k0, int k1, uint16_t *dst)
{
    int kp = lp_kpad(LP_BF16, k);
    static const uint16_t zip_idx[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                         8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const __m512i zip = _mm512_loadu_si512(zip_idx);
    for (int kk = k0 & ~1; kk < k1; kk += 2) {
        int has0 = kk >= k0, has1 = kk + 1 < k1;
        const float *r0 = b + (size_t)kk * ldb, *r1 = r0 + ldb;
        for (int j = 0; j < n; j += GEMM_PANEL) {
            int left = n - j;
            __mmask16 lm = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            __m512 v0 = has0 ? _mm512_maskz_loadu_ps(lm, r0 + j) : _mm512_setzero_ps();
            __m512 v1 = has1 ? _mm512_maskz_loadu_ps(lm, r1 + j) : _mm512_setzero_ps();
            __m512i both = _mm512_permutexvar_epi16(zip, (__m512i)_mm512_cvtne2ps_pbh(v1, v0));
            uint32_t sm = left >= 16 ? 0xffffffffu : (1u << (2 * left)) - 1; /* the columns present */
            sm &= (has0 ? 0x55555555u : 0) | (has1 ? 0xaaaaaaaau : 0);
            _mm512_mask_storeu_epi16(dst + (size_t)(j / GEMM_PANEL) * kp * GEMM_PANEL + (size_t)(kk / 2) * 2 * GEMM_PANEL,
                                     (__mmask32)sm, both);
        }
    }
}

T_VNNI void gemm_u8_quant_rows(const float *a, size_t lda, int m, int k, uint8_t *dst, size_t ldd,
                               float *scale, int32_t *zp)
{
    int kp = lp_kpad(LP_INT8, k);
    for (int i = 0; i < m; i++) {
        const float *ar = a + (size_t)i * lda;
        uint8_t *dr = dst + (size_t)i * ldd;
        /* range, widened to include 0 */
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        __mmask16 nan = 0; /* min/max may drop a NaN operand, so NaNs are looked for apart */
        for (int kk = 0; kk < k; kk += 16) {
            __mmask16 lm = k - kk >= 16 ? 0xffff : (__mmask16)((1u << (k - kk)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(lm, ar + kk);
            lo = _mm512_min_ps(lo, v);
            hi = _mm512_max_ps(hi, v);
            nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        }
        float mn = _mm512_reduce_min_ps(lo), mx = _mm512_reduce_max_ps(hi);
        if (nan || !isfinite(mn) || !isfinite(mx)) {
            scale[i] = NAN;
            zp[i] = 0;
            memset(dr, 0, (size_t)kp);
            continue;
        }
        /* mx/255 - mn/255, not (mx - mn)/255: the span of a finite row can exceed FLT_MAX (a row
         * from -2e38 to 2e38), and an infinite scale would make every output NaN where f32 is
         * finite. A row of tiny values (all under FLT_MIN * 255) gets FLT_MIN, so 1/s stays finite. */
        float s = mx / 255.0f - mn / 255.0f;
        if (!(s > 0.0f))
            s = 1.0f; /* an all-zero row: any scale, every q equals the zero point 0 */
        else if (s < FLT_MIN)
            s = FLT_MIN;
        float inv = 1.0f / s;
        int z = (int)lrintf(-mn * inv);
        z = z < 0 ? 0 : z > 255 ? 255 : z;
        scale[i] = s;
        zp[i] = z;
        __m512 iv = _mm512_set1_ps(inv);
        __m512i zv = _mm512_set1_epi32(z), q0 = _mm512_setzero_si512(), q255 = _mm512_set1_epi32(255);
        for (int kk = 0; kk < kp; kk += 16) {
            int left = k - kk;
            __mmask16 lm = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            __mmask16 sm = kp - kk >= 16 ? 0xffff : (__mmask16)((1u << (kp - kk)) - 1);
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(lm, ar + kk), iv));
            q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zv), q0), q255);
            q = _mm512_maskz_mov_epi32(lm, q); /* the k pad is zero */
            _mm512_mask_cvtepi32_storeu_epi8(dr + kk, sm, q);
        }
    }
}

/* ---- epilogue helpers (the epilogue itself is gemm_epi.h's, shared with gemm.c) ------------------ */

INLINE __mmask16 cols_mask(int nj, int v)
{
    int left = nj - 16 * v;
    return left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

INLINE int32_t load_u32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ---- bf16 micro-kernel: MR x (16*NV) over all k pairs; C in f32, or rounded to bf16 (OUT16) ---- */

/* acc += a . b over bf16 pairs. As for vpdpbusd below: GCC 12 routes the __m512bh intrinsic's
 * accumulators through spare registers and spills the 24 of a full tile to the stack; the asm keeps
 * each accumulator in its register. */
T_BF16 INLINE __m512 dpbf16(__m512 acc, __m512i a, __m512i b)
{
    __asm__("vdpbf16ps %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

T_BF16 INLINE void ukr_bf16(const int MR, const int NV, const int OUT16, int kq, const uint16_t *a,
                            size_t lda, const uint16_t *bp, size_t pstride, const float *bias,
                            void *cv, size_t ldc, gemm_epilogue epi, int nj)
{
    __m512 acc[12][4];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int q = 0; q < kq; q++) {
        __m512i b[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            b[v] = _mm512_loadu_si512(bp + (size_t)v * pstride + (size_t)q * 2 * GEMM_PANEL);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512i av = _mm512_set1_epi32(load_u32(a + (size_t)r * lda + 2 * (size_t)q));
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[r][v] = dpbf16(acc[r][v], av, b[v]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __mmask16 mk = cols_mask(nj, v);
            const float *bv = bias ? bias + 16 * v : NULL;
            if (OUT16) {
                uint16_t *cr = (uint16_t *)cv + (size_t)r * ldc + 16 * v;
                __m256bh h = _mm512_cvtneps_pbh(gemm_epi512(acc[r][v], bv, mk, NULL, epi));
                _mm256_mask_storeu_epi16(cr, mk, (__m256i)h);
            } else {
                float *cr = (float *)cv + (size_t)r * ldc + 16 * v;
                _mm512_mask_storeu_ps(cr, mk, gemm_epi512(acc[r][v], bv, mk, cr, epi));
            }
        }
    }
}

/* acc += u8 a . s8 b in 4-byte groups. GCC 12 copies every accumulator through a spare register
 * around the vpdpbusd intrinsic (24 extra moves per step, half the kernel's speed); tying the
 * accumulator in asm keeps it in place. */
T_VNNI INLINE __m512i dpbusd(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/* ---- int8 micro-kernel: MR x (16*NV) over all k quads, dequantized in the epilogue ----------- */

T_VNNI INLINE void ukr_int8(const int MR, const int NV, int kq, const uint8_t *a, size_t lda,
                            const float *as, const int32_t *az, const int8_t *bp, size_t pstride,
                            const float *bs, const int32_t *bsum, const float *bias, float *c,
                            size_t ldc, gemm_epilogue epi, int nj)
{
    __m512i acc[12][4];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_si512();
    for (int q = 0; q < kq; q++) {
        __m512i b[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            b[v] = _mm512_loadu_si512(bp + (size_t)v * pstride + (size_t)q * 4 * GEMM_PANEL);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512i av = _mm512_set1_epi32(load_u32(a + (size_t)r * lda + 4 * (size_t)q));
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[r][v] = dpbusd(acc[r][v], av, b[v]);
        }
    }
    __m512 sw[4];
    __m512i cs[4];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        __mmask16 mk = cols_mask(nj, v);
        sw[v] = _mm512_maskz_loadu_ps(mk, bs + 16 * v);
        cs[v] = _mm512_maskz_loadu_epi32(mk, bsum + 16 * v);
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        __m512i zr = _mm512_set1_epi32(az[r]);
        __m512 sr = _mm512_set1_ps(as[r]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __mmask16 mk = cols_mask(nj, v);
            __m512i iv = _mm512_sub_epi32(acc[r][v], _mm512_mullo_epi32(zr, cs[v]));
            __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(iv), _mm512_mul_ps(sr, sw[v]));
            _mm512_mask_storeu_ps(cr + 16 * v, mk, gemm_epi512(t, bias ? bias + 16 * v : NULL, mk, cr + 16 * v, epi));
        }
    }
}

/* Rows of one column group: full MAXR-row tiles, then one remainder tile; MR is a constant in each
 * call. Remainders of MAXR rows or more cannot occur and compile to nothing. */
#define LP_TAIL(R, MAXR, CALL)                                                                     \
    case R:                                                                                        \
        if ((R) < (MAXR))                                                                          \
            CALL((R) < (MAXR) ? (R) : 1);                                                          \
        break;
#define LP_ROWS_UPTO(MAXR, CALL)                                                                   \
    do {                                                                                           \
        int i = 0;                                                                                 \
        for (; i + (MAXR) <= m; i += (MAXR))                                                       \
            CALL(MAXR);                                                                            \
        switch (m - i) {                                                                           \
            LP_TAIL(11, MAXR, CALL) LP_TAIL(10, MAXR, CALL) LP_TAIL(9, MAXR, CALL)                 \
            LP_TAIL(8, MAXR, CALL) LP_TAIL(7, MAXR, CALL) LP_TAIL(6, MAXR, CALL)                   \
            LP_TAIL(5, MAXR, CALL) LP_TAIL(4, MAXR, CALL) LP_TAIL(3, MAXR, CALL)                   \
            LP_TAIL(2, MAXR, CALL) LP_TAIL(1, MAXR, CALL)                                          \
        default: break;                                                                            \
        }                                                                                          \
    } while (0)
#define LP_ROWS(CALL) LP_ROWS_UPTO(12, CALL)

/* One column group's rows, for one (columns, output type) pair: separate functions, so each holds its
 * inlined tiles. With all pairs in one function GCC 12's register allocator gave up on it and
 * spilled the accumulators (measured: 30% slower). Groups of 64 columns run in tiles of 6 rows x 4
 * vectors (24 accumulators, 10 loads per 24 vdpbf16ps), the rest in 12 x 2 or 12 x 1: on the linear
 * shapes of DeiT-tiny / small / base (bench/lp_bench.c, batch 8, 2 threads) 6x4 took 5-10% / 17% /
 * 14% less time than 12x2 everywhere, and 4x4 less than 12x2 but more than 6x4. */
#define BF16_CALL(MR, NV, O16)                                                                     \
    ukr_bf16(MR, NV, O16, kq, a + (size_t)i * lda, lda, p0, pstride, bj,                           \
             O16 ? (void *)((uint16_t *)c + (size_t)i * ldc) : (void *)((float *)c + (size_t)i * ldc), \
             ldc, epi, nj)
#define BF16_COLS(NAME, NV, O16, MAXR)                                                             \
    T_BF16 __attribute__((noinline)) static void NAME(                                            \
        int m, int kq, const uint16_t *a, size_t lda, const uint16_t *p0, size_t pstride,          \
        const float *bj, void *c, size_t ldc, gemm_epilogue epi, int nj)                           \
    {                                                                                              \
        LP_ROWS_UPTO(MAXR, NAME##_TILE);                                                           \
    }
#define bf16_cols4_TILE(MR) BF16_CALL(MR, 4, 0)
#define bf16_cols2_TILE(MR) BF16_CALL(MR, 2, 0)
#define bf16_cols1_TILE(MR) BF16_CALL(MR, 1, 0)
#define bf16_cols4_16_TILE(MR) BF16_CALL(MR, 4, 1)
#define bf16_cols2_16_TILE(MR) BF16_CALL(MR, 2, 1)
#define bf16_cols1_16_TILE(MR) BF16_CALL(MR, 1, 1)
BF16_COLS(bf16_cols4, 4, 0, 6)
BF16_COLS(bf16_cols2, 2, 0, 12)
BF16_COLS(bf16_cols1, 1, 0, 12)
BF16_COLS(bf16_cols4_16, 4, 1, 6)
BF16_COLS(bf16_cols2_16, 2, 1, 12)
BF16_COLS(bf16_cols1_16, 1, 1, 12)

static void bf16_product(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
                         const float *bias, void *c, size_t ldc, gemm_epilogue epi, int out16)
{
    int kq = lp_kpad(LP_BF16, k) / 2;
    size_t pstride = (size_t)kq * 2 * GEMM_PANEL;
    for (int j0 = 0; j0 < n;) {
        const uint16_t *p0 = bp + (size_t)(j0 / GEMM_PANEL) * pstride;
        const float *bj = bias ? bias + j0 : NULL;
        int nj = n - j0, nv = nj >= 4 * GEMM_PANEL ? 4 : nj > GEMM_PANEL ? 2 : 1;
        void *cj = out16 ? (void *)((uint16_t *)c + j0) : (void *)((float *)c + j0);
        if (nv == 4)
            (out16 ? bf16_cols4_16 : bf16_cols4)(m, kq, a, lda, p0, pstride, bj, cj, ldc, epi, nj);
        else if (nv == 2)
            (out16 ? bf16_cols2_16 : bf16_cols2)(m, kq, a, lda, p0, pstride, bj, cj, ldc, epi, nj);
        else
            (out16 ? bf16_cols1_16 : bf16_cols1)(m, kq, a, lda, p0, pstride, bj, cj, ldc, epi, nj);
        j0 += nv * GEMM_PANEL;
    }
}

void gemm_bf16(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    bf16_product(m, n, k, a, lda, bp, bias, c, ldc, epi, 0);
}

void gemm_bf16_out16(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
                     const float *bias, uint16_t *c, size_t ldc, gemm_epilogue epi)
{
    if (epi == GEMM_ADD)
        abort(); /* no f32 C to add to: a caller bug */
    bf16_product(m, n, k, a, lda, bp, bias, c, ldc, epi, 1);
    if (n & 1) /* the next product's k pad */
        for (int i = 0; i < m; i++)
            c[(size_t)i * ldc + n] = 0;
}

/* int8 column groups of 64 in tiles of 6 rows x 4 vectors (24 accumulators, 10 loads per 24
 * vpdpbusd) where n allows, then 32 or 16 columns in tiles of 12 rows. On DeiT-base's shapes
 * (bench/lp_bench.c, batch 8, 2 threads) 6x4 was 5-10% faster than 12x2 and ahead of 8x3, 5x4 and
 * 4x4; blocking k for L1, A in row tiles (one stream instead of six) and B's four panels
 * interleaved per quad were each tried on top and gained nothing measurable. */
#define INT8_CALL(MR, NV)                                                                          \
    ukr_int8(MR, NV, kq, a + (size_t)i * lda, lda, ascale + i, azp + i, p0, pstride, bs, bsum, bj, \
             c + (size_t)i * ldc, ldc, epi, nj)
#define INT8_COLS(NAME, NV, MAXR)                                                                  \
    T_VNNI __attribute__((noinline)) static void NAME(                                            \
        int m, int kq, const uint8_t *a, size_t lda, const float *ascale, const int32_t *azp,      \
        const int8_t *p0, size_t pstride, const float *bs, const int32_t *bsum, const float *bj,   \
        float *c, size_t ldc, gemm_epilogue epi, int nj)                                           \
    {                                                                                              \
        LP_ROWS_UPTO(MAXR, NAME##_TILE);                                                           \
    }
#define int8_cols4_TILE(MR) INT8_CALL(MR, 4)
#define int8_cols2_TILE(MR) INT8_CALL(MR, 2)
#define int8_cols1_TILE(MR) INT8_CALL(MR, 1)
INT8_COLS(int8_cols4, 4, 6)
INT8_COLS(int8_cols2, 2, 12)
INT8_COLS(int8_cols1, 1, 12)

T_VNNI void gemm_int8(int m, int n, int k, const uint8_t *a, size_t lda, const float *ascale,
                      const int32_t *azp, const int8_t *bp, const float *bscale, const int32_t *bcolsum,
                      const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    int kq = lp_kpad(LP_INT8, k) / 4;
    size_t pstride = (size_t)kq * 4 * GEMM_PANEL;
    for (int j0 = 0; j0 < n;) {
        const int8_t *p0 = bp + (size_t)(j0 / GEMM_PANEL) * pstride;
        const float *bj = bias ? bias + j0 : NULL;
        int nj = n - j0, nv = nj >= 4 * GEMM_PANEL ? 4 : nj > GEMM_PANEL ? 2 : 1;
        (nv == 4 ? int8_cols4 : nv == 2 ? int8_cols2 : int8_cols1)(m, kq, a, lda, ascale, azp, p0, pstride,
                                                                  bscale + j0, bcolsum + j0, bj, c + j0,
                                                                  ldc, epi, nj);
        j0 += nv * GEMM_PANEL;
    }
}

#else /* !LP_X86: lp_isa_missing never returns NULL, so the forward never calls these */

void gemm_bf16_round_rows(const float *a, size_t lda, int m, int k, uint16_t *dst, size_t ldd)
{
    (void)a; (void)lda; (void)m; (void)k; (void)dst; (void)ldd;
    abort();
}
void gemm_bf16_round_rows_scaled(const float *a, size_t lda, int m, int k, float scale, uint16_t *dst,
                                 size_t ldd)
{
    (void)a; (void)lda; (void)m; (void)k; (void)scale; (void)dst; (void)ldd;
    abort();
}
void gemm_bf16_pack_t_rows(const float *w, size_t ldw, int k, int n0, int n1, uint16_t *dst)
{
    (void)w; (void)ldw; (void)k; (void)n0; (void)n1; (void)dst;
    abort();
}
void gemm_bf16_pack_n_rows(const float *b, size_t ldb, int n, int k, int k0, int k1, uint16_t *dst)
{
    (void)b; (void)ldb; (void)n; (void)k; (void)k0; (void)k1; (void)dst;
    abort();
}
void gemm_u8_quant_rows(const float *a, size_t lda, int m, int k, uint8_t *dst, size_t ldd,
                        float *scale, int32_t *zp)
{
    (void)a; (void)lda; (void)m; (void)k; (void)dst; (void)ldd; (void)scale; (void)zp;
    abort();
}
void gemm_bf16(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)bp; (void)bias; (void)c; (void)ldc; (void)epi;
    abort();
}
void gemm_bf16_out16(int m, int n, int k, const uint16_t *a, size_t lda, const uint16_t *bp,
                     const float *bias, uint16_t *c, size_t ldc, gemm_epilogue epi)
{
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)bp; (void)bias; (void)c; (void)ldc; (void)epi;
    abort();
}
void gemm_int8(int m, int n, int k, const uint8_t *a, size_t lda, const float *ascale,
               const int32_t *azp, const int8_t *bp, const float *bscale, const int32_t *bcolsum,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)ascale; (void)azp; (void)bp; (void)bscale;
    (void)bcolsum; (void)bias; (void)c; (void)ldc; (void)epi;
    abort();
}
#endif
