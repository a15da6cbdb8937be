/* kernels.c — leaf numeric kernels of the forward pass: LayerNorm, exact GELU, softmax, add.
 *
 * erf and exp dominate the non-GEMM time (about 2 M erf and 1.4 M exp per DeiT-tiny image), so on
 * x86-64 they go through glibc's vector math library (libmvec, accurate to a few ulp): the same
 * accuracy class as scalar erff/expf, several times faster. Softmax and LayerNorm have AVX2 and
 * AVX-512 bodies picked at run time (the scalar max loop alone cost 15% of a forward pass: its
 * running maximum is a serial dependency chain). No fast-math anywhere.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
/* glibc libmvec entry points (GLIBC_2.35 for erf, 2.22 for exp); SSE variant, always available. */
__m128 _ZGVbN4v_erff(__m128 x);
__m128 _ZGVbN4v_expf(__m128 x);
__attribute__((target("avx2,fma"))) __m256 _ZGVdN8v_expf(__m256 x);
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_expf(__m512 x);
#define HAVE_LIBMVEC 1
#include "vmath.h"
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_AVX512 __attribute__((target("avx512f,avx2,fma")))

#endif

/* One row: mean and variance accumulated in double, output in float. */
static void layernorm_row(const float *xr, int d, const float *g, const float *b, float eps, float *yr)
{
    double sum = 0.0;
    for (int i = 0; i < d; i++)
        sum += xr[i];
    double mean = sum / d, var = 0.0;
    for (int i = 0; i < d; i++) {
        double t = xr[i] - mean;
        var += t * t;
    }
    float inv = (float)(1.0 / sqrt(var / d + (double)eps));
    float m = (float)mean;
    for (int i = 0; i < d; i++)
        yr[i] = (xr[i] - m) * inv * g[i] + b[i];
}

#ifdef HAVE_LIBMVEC
/* The same row with 4 double lanes per pass (sums reassociated across lanes, still in double:
 * the difference from the serial sum is far below float resolution). */
T_AVX2 static void layernorm_row_avx2(const float *xr, int d, const float *g, const float *b,
                                      float eps, float *yr)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 v = _mm256_loadu_ps(xr + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (int t = i; t < d; t++)
        sum += xr[t];
    double mean = sum / d;
    __m256d mv = _mm256_set1_pd(mean);
    s0 = _mm256_setzero_pd();
    s1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= d; i += 8) {
        __m256 v = _mm256_loadu_ps(xr + i);
        __m256d a = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mv);
        __m256d c = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mv);
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(a, a));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(c, c));
    }
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double var = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (int t = i; t < d; t++) {
        double u = xr[t] - mean;
        var += u * u;
    }
    float inv = (float)(1.0 / sqrt(var / d + (double)eps));
    float m = (float)mean;
    __m256 mf = _mm256_set1_ps(m), invf = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= d; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), mf), invf);
        v = _mm256_add_ps(_mm256_mul_ps(v, _mm256_loadu_ps(g + i)), _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(yr + i, v);
    }
    for (; i < d; i++)
        yr[i] = (xr[i] - m) * inv * g[i] + b[i];
}
#endif

void k_layernorm(gemm_isa isa, const float *x, int n, int d, const float *g, const float *b, float eps,
                 float *y)
{
#ifdef HAVE_LIBMVEC
    if (isa == GEMM_ISA_AVX2 || isa == GEMM_ISA_AVX512) {
        for (int r = 0; r < n; r++)
            layernorm_row_avx2(x + (size_t)r * d, d, g, b, eps, y + (size_t)r * d);
        return;
    }
#endif
    for (int r = 0; r < n; r++)
        layernorm_row(x + (size_t)r * d, d, g, b, eps, y + (size_t)r * d);
}

#ifdef HAVE_LIBMVEC
/* The GEMM epilogue's GELU (vmath.h), so k_gelu and the fused fc1 compute the same numbers. */
T_AVX512 static void gelu_avx512(float *x, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, k, vm_gelu512(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

T_AVX2 static size_t gelu_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, vm_gelu256(_mm256_loadu_ps(x + i)));
    return i;
}
#endif

void k_gelu(gemm_isa isa, float *x, size_t n)
{
    const float rsqrt2 = 0.70710678118654752440f;
    size_t i = 0;
#ifdef HAVE_LIBMVEC
    if (isa == GEMM_ISA_AVX512) {
        gelu_avx512(x, n);
        return;
    }
    if (isa == GEMM_ISA_AVX2)
        i = gelu_avx2(x, n);
    else {
        const __m128 half = _mm_set1_ps(0.5f), one = _mm_set1_ps(1.0f), s = _mm_set1_ps(rsqrt2);
        for (; i + 4 <= n; i += 4) {
            __m128 v = _mm_loadu_ps(x + i);
            __m128 e = _ZGVbN4v_erff(_mm_mul_ps(v, s));
            _mm_storeu_ps(x + i, _mm_mul_ps(_mm_mul_ps(half, v), _mm_add_ps(one, e)));
        }
    }
#endif
    for (; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * rsqrt2));
}

/* x[i] = exp(x[i] - m) for i < d; returns the sum of the results. */
static float exp_shift_sum(float *x, int d, float m)
{
    float sum = 0.0f;
    int i = 0;
#ifdef HAVE_LIBMVEC
    __m128 acc = _mm_setzero_ps(), mv = _mm_set1_ps(m);
    for (; i + 4 <= d; i += 4) {
        __m128 e = _ZGVbN4v_expf(_mm_sub_ps(_mm_loadu_ps(x + i), mv));
        _mm_storeu_ps(x + i, e);
        acc = _mm_add_ps(acc, e);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, acc);
    sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
    for (; i < d; i++) {
        x[i] = expf(x[i] - m);
        sum += x[i];
    }
    return sum;
}

#ifdef HAVE_LIBMVEC
/* One row, 8 lanes: max, exp(x - max) and its sum, scale; scalar tail. */
T_AVX2 static void softmax_row_avx2(float *x, int d)
{
    int i = 0;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= d; i += 8)
        mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, mv);
    float m = lanes[0];
    for (int t = 1; t < 8; t++)
        m = lanes[t] > m ? lanes[t] : m;
    for (int t = i; t < d; t++)
        m = x[t] > m ? x[t] : m;
    mv = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= d; i += 8) {
        __m256 e = _ZGVdN8v_expf(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    _mm256_storeu_ps(lanes, acc);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (int t = i; t < d; t++) {
        x[t] = expf(x[t] - m);
        sum += x[t];
    }
    float inv = 1.0f / sum;
    __m256 iv = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= d; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
    for (; i < d; i++)
        x[i] *= inv;
}

/* One row, 16 lanes with a masked tail (masked-off lanes read as -inf, so exp gives 0). */
T_AVX512 static void softmax_row_avx512(float *x, int d)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 mv = ninf;
    for (int i = 0; i < d; i += 16) {
        __mmask16 k = d - i >= 16 ? 0xffff : (__mmask16)((1u << (d - i)) - 1);
        mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(ninf, k, x + i));
    }
    mv = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < d; i += 16) {
        __mmask16 k = d - i >= 16 ? 0xffff : (__mmask16)((1u << (d - i)) - 1);
        __m512 e = _ZGVeN16v_expf(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, k, x + i), mv));
        _mm512_mask_storeu_ps(x + i, k, e);
        acc = _mm512_add_ps(acc, e);
    }
    __m512 iv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
    for (int i = 0; i < d; i += 16) {
        __mmask16 k = d - i >= 16 ? 0xffff : (__mmask16)((1u << (d - i)) - 1);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), iv));
    }
}
#endif

void k_softmax_rows(gemm_isa isa, float *x, int n, int d)
{
#ifdef HAVE_LIBMVEC
    if (isa == GEMM_ISA_AVX512) {
        for (int r = 0; r < n; r++)
            softmax_row_avx512(x + (size_t)r * d, d);
        return;
    }
    if (isa == GEMM_ISA_AVX2) {
        for (int r = 0; r < n; r++)
            softmax_row_avx2(x + (size_t)r * d, d);
        return;
    }
#endif
    for (int r = 0; r < n; r++) {
        float *xr = x + (size_t)r * d;
        float m = xr[0];
        for (int i = 1; i < d; i++)
            m = xr[i] > m ? xr[i] : m;
        float inv = 1.0f / exp_shift_sum(xr, d, m);
        for (int i = 0; i < d; i++)
            xr[i] *= inv;
    }
}

void k_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}
