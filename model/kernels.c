/* kernels.c — leaf numeric kernels: linear (OpenBLAS sgemm), LayerNorm, exact GELU, softmax.
 *
 * erf and exp dominate the non-GEMM time (about 2 M erf and 1.4 M exp per DeiT-tiny image), so on
 * x86-64 they go through glibc's vector math library (libmvec, 4 lanes, accurate to a few ulp):
 * the same accuracy class as scalar erff/expf, several times faster. No fast-math anywhere.
 */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
/* glibc libmvec entry points (GLIBC_2.35 for erf, 2.22 for exp); SSE variant, always available. */
__m128 _ZGVbN4v_erff(__m128 x);
__m128 _ZGVbN4v_expf(__m128 x);
#define HAVE_LIBMVEC 1
#endif

void k_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y)
{
    float beta = 0.0f;
    if (b) {
        for (int r = 0; r < n; r++)
            memcpy(y + (size_t)r * out, b, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, beta, y,
                out);
}

void k_layernorm(const float *x, int n, int d, const float *g, const float *b, float eps, float *y)
{
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * d;
        float *yr = y + (size_t)r * d;
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
}

void k_gelu(float *x, size_t n)
{
    const float rsqrt2 = 0.70710678118654752440f;
    size_t i = 0;
#ifdef HAVE_LIBMVEC
    const __m128 half = _mm_set1_ps(0.5f), one = _mm_set1_ps(1.0f), s = _mm_set1_ps(rsqrt2);
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_loadu_ps(x + i);
        __m128 e = _ZGVbN4v_erff(_mm_mul_ps(v, s));
        _mm_storeu_ps(x + i, _mm_mul_ps(_mm_mul_ps(half, v), _mm_add_ps(one, e)));
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

void k_softmax_rows(float *x, int n, int d)
{
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
