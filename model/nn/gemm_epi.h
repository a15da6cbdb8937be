/* gemm_epi.h — the AVX-512 GEMM epilogue on 16 lanes of one C row: + bias, then exact GELU or + C
 * (the residual), as gemm.h's gemm_epilogue says. Shared by the f32 kernels (gemm.c) and the bf16
 * and int8 ones (gemm_lp.c), so every precision finishes its products the same way. Static inline,
 * for the x86 kernel files only. */
#ifndef DEIT_GEMM_EPI_H
#define DEIT_GEMM_EPI_H

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "gemm.h"
#include "vmath.h"

/* Lanes outside mask read nothing from bias or c. */
__attribute__((target("avx512f,fma"), always_inline)) static inline __m512
gemm_epi512(__m512 t, const float *bias, __mmask16 mask, const float *c, gemm_epilogue epi)
{
    if (bias)
        t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(mask, bias));
    if (epi == GEMM_GELU)
        t = vm_gelu512(t);
    else if (epi == GEMM_ADD)
        t = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, c), t);
    return t;
}
#endif

#endif
