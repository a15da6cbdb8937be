/* gemm_blas.c — gemm.h's products on OpenBLAS's sgemm, the backend where the engine's own kernels do not apply.
 *
 * OpenBLAS has tuned kernels for CPUs our kernels do not target (arm64 NEON/SVE, x86 without AVX2),
 * where the portable C kernel is several times slower (bench/README.md). B arrives as B^T rows, so a
 * linear layer's weight is the checkpoint's W[out][in] as loaded, with no packing at all.
 *
 * Threads: the engine's team splits every product by rows already (and runs LayerNorm, attention
 * and GELU in parallel, which BLAS threading would leave serial), and a server runs several teams
 * at once; an OpenBLAS thread pool under each call would put workers x threads x BLAS threads on
 * the cores and spin between calls. So OpenBLAS runs every call on the calling thread
 * (gemm_blas_single_thread, set when a model picks this backend) and the team owns the threading.
 */
#include "gemm.h"

#include <cblas.h>
#include <stdatomic.h>

#include "kernels.h"

void gemm_blas_single_thread(void)
{
    static atomic_int done;
    if (!atomic_exchange(&done, 1))
        openblas_set_num_threads(1);
}

void gemm_blas(int m, int n, int k, float alpha, const float *a, size_t lda, const float *bt,
               const float *bias, float *c, size_t ldc, gemm_epilogue epi)
{
    /* the residual is sgemm's own beta = 1; bias and GELU follow on the rows just written, still
     * in cache (k_gelu: libmvec's SSE erf on x86-64, which every x86-64 CPU runs) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, alpha, a, (int)lda, bt, k,
                epi == GEMM_ADD ? 1.0f : 0.0f, c, (int)ldc);
    if (!bias && epi != GEMM_GELU)
        return;
    for (int i = 0; i < m; i++) {
        float *cr = c + (size_t)i * ldc;
        if (bias)
            for (int j = 0; j < n; j++)
                cr[j] += bias[j];
        if (epi == GEMM_GELU)
            k_gelu(GEMM_ISA_BLAS, cr, (size_t)n);
    }
}
