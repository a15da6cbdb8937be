/* gemm_bench.c — GFLOP/s of the engine's GEMM backends (own kernels per ISA, OpenBLAS) on DeiT shapes. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Median seconds of `reps` runs of one product C = A @ B + bias (the engine's call, epilogue included). */
static double time_one(gemm_isa isa, int m, int n, int k, const float *a, const float *bp,
                       const float *bias, float *c, int reps)
{
    double best[64];
    if (reps > 64)
        reps = 64;
    for (int r = 0; r < reps; r++) {
        double t = now_s();
        for (int it = 0; it < 5; it++)
            gemm(isa, m, n, k, 1.0f, a, (size_t)k, bp, bias, c, (size_t)n, GEMM_STORE);
        best[r] = (now_s() - t) / 5;
    }
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && best[j] < best[j - 1]; j--) {
            double x = best[j];
            best[j] = best[j - 1];
            best[j - 1] = x;
        }
    return best[reps / 2];
}

int main(int argc, char **argv)
{
    static const int shapes[][3] = {{198, 576, 192}, {198, 192, 192}, {198, 768, 192}, {198, 192, 768},
                                    {99, 576, 192},  {99, 768, 192},  {99, 192, 768},  {792, 768, 192},
                                    {99, 1152, 384}, {99, 3072, 768}, {99, 768, 3072}};
    /* every backend this CPU runs: generic .. its best own ISA, then blas */
    gemm_isa isas[4];
    int n_isa = 0, top = gemm_isa_detect();
    for (int i = GEMM_ISA_GENERIC; i <= GEMM_ISA_BLAS; i++)
        if (gemm_isa_runs((gemm_isa)i))
            isas[n_isa++] = (gemm_isa)i;
    gemm_blas_single_thread();
    (void)argc;
    (void)argv;
    printf("%s, core %s; this CPU's default: %s\n", openblas_get_config(), openblas_get_corename(),
           gemm_isa_name((gemm_isa)top));
    printf("%-16s", "m x n x k");
    for (int i = 0; i < n_isa; i++)
        printf(" %10s", gemm_isa_name(isas[i]));
    printf("   (GFLOP/s, 1 thread; max |diff| vs the first)\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), *b = malloc((size_t)n * 4);
        float *wp = aligned_alloc(64, gemm_packed_floats(n, k) * 4);
        float *c0 = malloc((size_t)m * n * 4), *c1 = malloc((size_t)m * n * 4);
        srand(1);
        for (size_t i = 0; i < (size_t)m * k; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
        for (size_t i = 0; i < (size_t)n * k; i++) w[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < n; i++) b[i] = rand() / (float)RAND_MAX;
        double fl = 2.0 * m * n * k, md = 0;
        char name[32];
        snprintf(name, sizeof name, "%dx%dx%d", m, n, k);
        printf("%-16s", name);
        for (int i = 0; i < n_isa; i++) {
            gemm_pack_t(isas[i], w, (size_t)k, n, k, 0, n, wp);
            float *c = i ? c1 : c0;
            printf(" %10.1f", fl / time_one(isas[i], m, n, k, a, wp, b, c, isas[i] == GEMM_ISA_GENERIC ? 3 : 15) / 1e9);
            for (size_t q = 0; i && q < (size_t)m * n; q++)
                md = fmax(md, fabs(c0[q] - c1[q]));
        }
        printf("   %.2g\n", md);
        free(a); free(w); free(b); free(wp); free(c0); free(c1);
    }
    return 0;
}
