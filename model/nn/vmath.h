/* vmath.h — the exact-GELU factor 1 + erf(z) for the AVX2 and AVX-512 kernels, in registers.
 *
 * Why not libmvec's erff: on this Zen core its 16-lane variant costs 50..170 cycles per vector
 * (the slow end for the wide pre-activations of DeiT-base), a third of fc1's time. This version is
 * ~30 vector operations, branch-free, and accurate to about 1e-7 absolute (tests/unit/test_kernels.c
 * checks GELU against double erf on a dense grid):
 *   |z| < 1:  erf(z) = z * P(z^2), P of degree 6, relative error 1.3e-9 (fit in double);
 *   |z| >= 1: erfc(|z|) = exp(Q(|z| - 2.5)), Q of degree 8 on [1, 4], error 1.2e-8 in the log;
 *             past |z| = 4 erfc is taken as 0 (it is < 1.5e-8: below float resolution next to
 *             1, and GELU's negative tail x * erfc / 2 is < 5e-8 there and falls fast);
 *   exp: Cephes expf (Cody-Waite reduction, degree-5 polynomial), ~1 ulp on Q's range [-18.5, -1.8].
 * Returning 1 + erf directly keeps the negative tail (1 + erf = erfc) free of cancellation.
 * Static inline, for inclusion by the kernel files only (target attributes set per function).
 */
#ifndef DEIT_VMATH_H
#define DEIT_VMATH_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define VM_P0 1.1283791657536049f
#define VM_P1 -0.3761262603086203f
#define VM_P2 0.11283587700747275f
#define VM_P3 -0.026853926568501663f
#define VM_P4 0.005188559298444223f
#define VM_P5 -0.0008012341517688315f
#define VM_P6 7.861303999946723e-05f
/* Q, highest degree first, in t = |z| - 2.5 */
#define VM_Q8 1.601148691e-06f
#define VM_Q7 -1.330156890e-05f
#define VM_Q6 7.744928290e-05f
#define VM_Q5 -4.201735680e-04f
#define VM_Q4 2.165088854e-03f
#define VM_Q3 -1.085848695e-02f
#define VM_Q2 -9.438936113e-01f
#define VM_Q1 -5.352680689e+00f
#define VM_Q0 -7.806815279e+00f

#define VM_FMA512(a, b, c) _mm512_fmadd_ps(a, b, _mm512_set1_ps(c))
#define VM_FMA256(a, b, c) _mm256_fmadd_ps(a, b, _mm256_set1_ps(c))

/* exp(x) for x in [-87, 0]: 2^n * e^r, n = round(x / ln 2). */
__attribute__((target("avx512f,fma"), always_inline)) static inline __m512 vm_exp512(__m512 x)
{
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = VM_FMA512(p, r, 1.3981999507e-3f);
    p = VM_FMA512(p, r, 8.3334519073e-3f);
    p = VM_FMA512(p, r, 4.1665795894e-2f);
    p = VM_FMA512(p, r, 1.6666665459e-1f);
    p = VM_FMA512(p, r, 5.0000001201e-1f);
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* 1 + erf(z), 16 lanes. */
__attribute__((target("avx512f,fma"), always_inline)) static inline __m512 vm_one_plus_erf512(__m512 z)
{
    __m512 a = _mm512_abs_ps(z);
    __mmask16 big = _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.0f), _CMP_GE_OQ);
    __m512 u = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(VM_P6);
    p = VM_FMA512(p, u, VM_P5);
    p = VM_FMA512(p, u, VM_P4);
    p = VM_FMA512(p, u, VM_P3);
    p = VM_FMA512(p, u, VM_P2);
    p = VM_FMA512(p, u, VM_P1);
    p = VM_FMA512(p, u, VM_P0);
    __m512 res = _mm512_fmadd_ps(z, p, _mm512_set1_ps(1.0f));
    if (big) {
        __m512 t = _mm512_sub_ps(_mm512_min_ps(a, _mm512_set1_ps(4.0f)), _mm512_set1_ps(2.5f));
        __m512 q = _mm512_set1_ps(VM_Q8);
        q = VM_FMA512(q, t, VM_Q7);
        q = VM_FMA512(q, t, VM_Q6);
        q = VM_FMA512(q, t, VM_Q5);
        q = VM_FMA512(q, t, VM_Q4);
        q = VM_FMA512(q, t, VM_Q3);
        q = VM_FMA512(q, t, VM_Q2);
        q = VM_FMA512(q, t, VM_Q1);
        q = VM_FMA512(q, t, VM_Q0);
        __mmask16 in = _mm512_cmp_ps_mask(a, _mm512_set1_ps(4.0f), _CMP_LE_OQ);
        __m512 ec = _mm512_maskz_mov_ps(in, vm_exp512(q)); /* erfc(|z|) */
        __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
        __m512 tail = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), ec), ec);
        res = _mm512_mask_blend_ps(big, res, tail);
    }
    return res;
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256 vm_exp256(__m256 x)
{
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = VM_FMA256(p, r, 1.3981999507e-3f);
    p = VM_FMA256(p, r, 8.3334519073e-3f);
    p = VM_FMA256(p, r, 4.1665795894e-2f);
    p = VM_FMA256(p, r, 1.6666665459e-1f);
    p = VM_FMA256(p, r, 5.0000001201e-1f);
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* 1 + erf(z), 8 lanes. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 vm_one_plus_erf256(__m256 z)
{
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 big = _mm256_cmp_ps(a, _mm256_set1_ps(1.0f), _CMP_GE_OQ);
    __m256 u = _mm256_mul_ps(z, z);
    __m256 p = _mm256_set1_ps(VM_P6);
    p = VM_FMA256(p, u, VM_P5);
    p = VM_FMA256(p, u, VM_P4);
    p = VM_FMA256(p, u, VM_P3);
    p = VM_FMA256(p, u, VM_P2);
    p = VM_FMA256(p, u, VM_P1);
    p = VM_FMA256(p, u, VM_P0);
    __m256 res = _mm256_fmadd_ps(z, p, _mm256_set1_ps(1.0f));
    if (_mm256_movemask_ps(big)) {
        __m256 t = _mm256_sub_ps(_mm256_min_ps(a, _mm256_set1_ps(4.0f)), _mm256_set1_ps(2.5f));
        __m256 q = _mm256_set1_ps(VM_Q8);
        q = VM_FMA256(q, t, VM_Q7);
        q = VM_FMA256(q, t, VM_Q6);
        q = VM_FMA256(q, t, VM_Q5);
        q = VM_FMA256(q, t, VM_Q4);
        q = VM_FMA256(q, t, VM_Q3);
        q = VM_FMA256(q, t, VM_Q2);
        q = VM_FMA256(q, t, VM_Q1);
        q = VM_FMA256(q, t, VM_Q0);
        __m256 ec = _mm256_and_ps(vm_exp256(q), _mm256_cmp_ps(a, _mm256_set1_ps(4.0f), _CMP_LE_OQ));
        __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
        __m256 tail = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), ec), ec, neg);
        res = _mm256_blendv_ps(res, tail, big);
    }
    return res;
}
/* Exact GELU, x * (1 + erf(x / sqrt 2)) / 2: the GEMM epilogues and k_gelu share these, so the
 * fused and unfused paths compute the same numbers. */
__attribute__((target("avx512f,fma"), always_inline)) static inline __m512 vm_gelu512(__m512 x)
{
    __m512 e = vm_one_plus_erf512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), e);
}

__attribute__((target("avx2,fma"), always_inline)) static inline __m256 vm_gelu256(__m256 x)
{
    __m256 e = vm_one_plus_erf256(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752440f)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), e);
}
#endif

#endif
