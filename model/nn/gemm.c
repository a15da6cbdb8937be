/* gemm.c — packed-panel matrix products: AVX-512 / AVX2 FMA micro-kernels, a portable fallback, the choice.
 *
 * Why our own GEMM on x86 with AVX2: OpenBLAS 0.3.21 runs its Haswell (AVX2) kernels on Zen 5, and
 * on a core with full-width AVX-512 that is half the FMA throughput; on an Intel server its CPU
 * table picked SSE3 kernels (bench/README.md). Our shapes are small (k = 64..3072, n = 192..
 * 3072, a few hundred rows per thread), the weights can be packed once at load instead of on every
 * call, and the epilogue (bias, GELU, residual) is applied while the tile is still in registers.
 *
 * Blocking: no k-blocking. One micro-kernel call accumulates a full MR x NR tile over all of k, so a
 * B panel (k x 32 floats, <= 96 KB for our k <= 768; 384 KB for base's fc2) streams from L1/L2 at
 * about 11 bytes per cycle, which L2 sustains easily, and every output is summed in k order.
 */
#include "gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define GEMM_X86 1
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_AVX512 __attribute__((target("avx512f,avx2,fma")))
#include "gemm_epi.h"
#include "vmath.h"
#endif

#define INLINE static inline __attribute__((always_inline))

static const float RSQRT2 = 0.70710678118654752440f;

gemm_isa gemm_isa_detect(void)
{
#ifdef GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return __builtin_cpu_supports("avx512f") ? GEMM_ISA_AVX512 : GEMM_ISA_AVX2;
#endif
    return GEMM_ISA_BLAS;
}

int gemm_isa_runs(gemm_isa isa)
{
    gemm_isa best = gemm_isa_detect();
    if (isa == GEMM_ISA_GENERIC || isa == GEMM_ISA_BLAS)
        return 1;
    return best != GEMM_ISA_BLAS && isa <= best;
}

int gemm_isa_parse(const char *name, gemm_isa *out)
{
    static const gemm_isa all[] = {GEMM_ISA_GENERIC, GEMM_ISA_AVX2, GEMM_ISA_AVX512, GEMM_ISA_BLAS};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, gemm_isa_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

const char *gemm_isa_name(gemm_isa isa)
{
    switch (isa) {
    case GEMM_ISA_AVX512: return "avx512";
    case GEMM_ISA_AVX2: return "avx2";
    case GEMM_ISA_BLAS: return "blas";
    default: return "generic";
    }
}

int gemm_isa_packs(gemm_isa isa)
{
    return isa != GEMM_ISA_BLAS;
}

size_t gemm_packed_floats(int n, int k)
{
    size_t np = ((size_t)n + GEMM_PANEL - 1) / GEMM_PANEL * GEMM_PANEL;
    return np * (size_t)k;
}

void gemm_pack_t(gemm_isa isa, const float *w, size_t ldw, int n, int k, int n0, int n1, float *dst)
{
    (void)n;
    if (!gemm_isa_packs(isa)) {
        for (int j = n0; j < n1; j++)
            memcpy(dst + (size_t)j * k, w + (size_t)j * ldw, (size_t)k * sizeof(float));
        return;
    }
    /* one panel's slice of rows at a time, so each kk writes one contiguous run (a cache line) */
    for (int j0 = n0; j0 < n1;) {
        int p = j0 / GEMM_PANEL, jl = j0 % GEMM_PANEL;
        int cnt = GEMM_PANEL - jl < n1 - j0 ? GEMM_PANEL - jl : n1 - j0;
        float *d = dst + (size_t)p * k * GEMM_PANEL + jl;
        const float *src = w + (size_t)j0 * ldw;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < cnt; j++)
                d[(size_t)kk * GEMM_PANEL + j] = src[(size_t)j * ldw + kk];
        j0 += cnt;
    }
}

void gemm_pack_n(gemm_isa isa, const float *b, size_t ldb, int n, int k, int k0, int k1, float *dst)
{
    if (!gemm_isa_packs(isa)) {
        for (int kk = k0; kk < k1; kk++)
            for (int j = 0; j < n; j++)
                dst[(size_t)j * k + kk] = b[(size_t)kk * ldb + j];
        return;
    }
    /* row kk of B lands as n/16 runs of 16 contiguous floats, one per panel */
    for (int kk = k0; kk < k1; kk++) {
        const float *src = b + (size_t)kk * ldb;
        float *d = dst + (size_t)kk * GEMM_PANEL;
        for (int j = 0; j < n; j += GEMM_PANEL, d += (size_t)k * GEMM_PANEL)
            memcpy(d, src + j, (size_t)(n - j < GEMM_PANEL ? n - j : GEMM_PANEL) * sizeof(float));
    }
}

/* ---- portable C ------------------------------------------------------------------------------- */

static float epi_scalar(float v, float alpha, const float *bias, int j, float *c, gemm_epilogue epi)
{
    v *= alpha;
    if (bias)
        v += bias[j];
    if (epi == GEMM_GELU)
        v = 0.5f * v * (1.0f + erff(v * RSQRT2));
    else if (epi == GEMM_ADD)
        v = *c + v;
    return v;
}

static void gemm_generic(int m, int n, int k, float alpha, const float *a, size_t lda,
                         const float *bp, const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    for (int j0 = 0; j0 < n; j0 += GEMM_PANEL) {
        const float *panel = bp + (size_t)(j0 / GEMM_PANEL) * k * GEMM_PANEL;
        int nj = n - j0 < GEMM_PANEL ? n - j0 : GEMM_PANEL;
        for (int i = 0; i < m; i++) {
            float acc[GEMM_PANEL] = {0};
            const float *ar = a + (size_t)i * lda;
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < GEMM_PANEL; j++)
                    acc[j] += ar[kk] * panel[(size_t)kk * GEMM_PANEL + j];
            float *cr = c + (size_t)i * ldc + j0;
            for (int j = 0; j < nj; j++)
                cr[j] = epi_scalar(acc[j], alpha, bias, j0 + j, cr + j, epi);
        }
    }
}

#ifdef GEMM_X86
/* ---- AVX2 + FMA: 6 rows x 16 columns (one panel) in 12 ymm accumulators ----------------------- */

T_AVX2 INLINE __m256 epi_avx2(__m256 t, __m256 alpha, const float *bias, __m256i mask, float *c,
                              gemm_epilogue epi)
{
    t = _mm256_mul_ps(t, alpha);
    if (bias)
        t = _mm256_add_ps(t, _mm256_maskload_ps(bias, mask));
    if (epi == GEMM_GELU) {
        t = vm_gelu256(t);
    } else if (epi == GEMM_ADD) {
        t = _mm256_add_ps(_mm256_maskload_ps(c, mask), t);
    }
    return t;
}

/* One MR x 16 tile of C over all k: MR is a compile-time constant after inlining. */
T_AVX2 INLINE void ukr_avx2(const int MR, int k, float alpha, const float *a, size_t lda,
                            const float *b, const float *bias, float *c, size_t ldc,
                            gemm_epilogue epi, int nj)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        __m256 b0 = _mm256_loadu_ps(b + (size_t)kk * GEMM_PANEL);
        __m256 b1 = _mm256_loadu_ps(b + (size_t)kk * GEMM_PANEL + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)r * lda + kk);
            acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nj), lane);
    __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nj - 8), lane);
    __m256 al = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        __m256 t0 = epi_avx2(acc[r][0], al, bias, m0, cr, epi);
        __m256 t1 = epi_avx2(acc[r][1], al, bias ? bias + 8 : NULL, m1, cr + 8, epi);
        _mm256_maskstore_ps(cr, m0, t0);
        _mm256_maskstore_ps(cr + 8, m1, t1);
    }
}

T_AVX2 static void gemm_avx2(int m, int n, int k, float alpha, const float *a, size_t lda,
                             const float *bp, const float *bias, float *c, size_t ldc,
                             gemm_epilogue epi)
{
    for (int j0 = 0; j0 < n; j0 += GEMM_PANEL) {
        const float *panel = bp + (size_t)(j0 / GEMM_PANEL) * k * GEMM_PANEL;
        const float *bj = bias ? bias + j0 : NULL;
        int nj = n - j0;
        int i = 0;
        for (; i + 6 <= m; i += 6)
            ukr_avx2(6, k, alpha, a + (size_t)i * lda, lda, panel, bj, c + (size_t)i * ldc + j0, ldc, epi, nj);
        const float *ai = a + (size_t)i * lda;
        float *ci = c + (size_t)i * ldc + j0;
        switch (m - i) {
        case 5: ukr_avx2(5, k, alpha, ai, lda, panel, bj, ci, ldc, epi, nj); break;
        case 4: ukr_avx2(4, k, alpha, ai, lda, panel, bj, ci, ldc, epi, nj); break;
        case 3: ukr_avx2(3, k, alpha, ai, lda, panel, bj, ci, ldc, epi, nj); break;
        case 2: ukr_avx2(2, k, alpha, ai, lda, panel, bj, ci, ldc, epi, nj); break;
        case 1: ukr_avx2(1, k, alpha, ai, lda, panel, bj, ci, ldc, epi, nj); break;
        default: break;
        }
    }
}

/* ---- AVX-512: 12 rows x 32 columns (two panels) in 24 zmm accumulators ------------------------ */

T_AVX512 INLINE __m512 epi_avx512(__m512 t, __m512 alpha, const float *bias, __mmask16 mask,
                                  float *c, gemm_epilogue epi)
{
    return gemm_epi512(_mm512_mul_ps(t, alpha), bias, mask, c, epi);
}

/* One MR x (16*NV) tile of C over all k; b1 is the second panel when NV == 2. */
T_AVX512 INLINE void ukr_avx512(const int MR, const int NV, int k, float alpha, const float *a,
                                size_t lda, const float *b0p, const float *b1p, const float *bias,
                                float *c, size_t ldc, gemm_epilogue epi, int nj)
{
    __m512 acc[12][2];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int kk = 0; kk < k; kk++) {
        __m512 b0 = _mm512_loadu_ps(b0p + (size_t)kk * GEMM_PANEL);
        __m512 b1 = NV > 1 ? _mm512_loadu_ps(b1p + (size_t)kk * GEMM_PANEL) : b0;
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[(size_t)r * lda + kk]);
            acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
            if (NV > 1)
                acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
        }
    }
    __mmask16 m0 = nj >= 16 ? 0xffff : (__mmask16)((1u << nj) - 1);
    __mmask16 m1 = nj >= 32 ? 0xffff : nj <= 16 ? 0 : (__mmask16)((1u << (nj - 16)) - 1);
    __m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        float *cr = c + (size_t)r * ldc;
        _mm512_mask_storeu_ps(cr, m0, epi_avx512(acc[r][0], al, bias, m0, cr, epi));
        if (NV > 1)
            _mm512_mask_storeu_ps(cr + 16, m1,
                                  epi_avx512(acc[r][1], al, bias ? bias + 16 : NULL, m1, cr + 16, epi));
    }
}

/* Rows i.. of one column group (NV panels): full 12-row tiles, then one remainder tile. */
#define AVX512_ROWS(NV)                                                                            \
    do {                                                                                           \
        int i = 0;                                                                                 \
        for (; i + 12 <= m; i += 12)                                                               \
            ukr_avx512(12, NV, k, alpha, a + (size_t)i * lda, lda, p0, p1, bj,                     \
                       c + (size_t)i * ldc + j0, ldc, epi, nj);                                    \
        const float *ai = a + (size_t)i * lda;                                                     \
        float *ci = c + (size_t)i * ldc + j0;                                                      \
        switch (m - i) {                                                                           \
        case 11: ukr_avx512(11, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;       \
        case 10: ukr_avx512(10, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;       \
        case 9: ukr_avx512(9, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 8: ukr_avx512(8, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 7: ukr_avx512(7, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 6: ukr_avx512(6, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 5: ukr_avx512(5, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 4: ukr_avx512(4, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 3: ukr_avx512(3, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 2: ukr_avx512(2, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        case 1: ukr_avx512(1, NV, k, alpha, ai, lda, p0, p1, bj, ci, ldc, epi, nj); break;         \
        default: break;                                                                            \
        }                                                                                          \
    } while (0)

T_AVX512 static void gemm_avx512(int m, int n, int k, float alpha, const float *a, size_t lda,
                                 const float *bp, const float *bias, float *c, size_t ldc,
                                 gemm_epilogue epi)
{
    size_t pstride = (size_t)k * GEMM_PANEL;
    for (int j0 = 0; j0 < n; j0 += 2 * GEMM_PANEL) {
        const float *p0 = bp + (size_t)(j0 / GEMM_PANEL) * pstride, *p1 = p0 + pstride;
        const float *bj = bias ? bias + j0 : NULL;
        int nj = n - j0;
        if (nj > GEMM_PANEL)
            AVX512_ROWS(2);
        else
            AVX512_ROWS(1);
    }
}
#endif /* GEMM_X86 */

void gemm(gemm_isa isa, int m, int n, int k, float alpha, const float *a, size_t lda,
          const float *bp, const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    if (m <= 0 || n <= 0)
        return;
    if (isa == GEMM_ISA_BLAS) {
        gemm_blas(m, n, k, alpha, a, lda, bp, bias, c, ldc, epi);
        return;
    }
#ifdef GEMM_X86
    if (isa == GEMM_ISA_AVX512) {
        gemm_avx512(m, n, k, alpha, a, lda, bp, bias, c, ldc, epi);
        return;
    }
    if (isa == GEMM_ISA_AVX2) {
        gemm_avx2(m, n, k, alpha, a, lda, bp, bias, c, ldc, epi);
        return;
    }
#endif
    (void)isa;
    gemm_generic(m, n, k, alpha, a, lda, bp, bias, c, ldc, epi);
}
