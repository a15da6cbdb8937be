/* test_kernels.c — the forward pass's leaf kernels and the softmax/fusion/top-k helpers against
 * straightforward double-precision formulas. */
#include <stdio.h>
#include <stdlib.h>

#include "../check.h"
#include "deit.h"
#include "gemm.h"
#include "kernels.h"

/* The kernel set the leaf-kernel tests run on; main() runs them on every set this CPU has. */
static gemm_isa ISA;

static void test_gelu(void)
{
    /* exact erf GELU over a dense range, vector and scalar tail paths (n not a multiple of 4) */
    enum { N = 20003 };
    float *x = malloc(N * sizeof(float));
    double worst = 0;
    for (int i = 0; i < N; i++)
        x[i] = -12.0f + 24.0f * (float)i / (N - 1);
    float *y = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        y[i] = x[i];
    k_gelu(ISA, y, N);
    for (int i = 0; i < N; i++) {
        double ref = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
        /* absolute near zero: 1 + erf(x) cancels for x << 0 in float32, as it does in torch */
        double err = fabs(y[i] - ref) / (fabs(ref) > 1.0 ? fabs(ref) : 1.0);
        if (err > worst)
            worst = err;
    }
    CHECK_MSG(worst < 5e-7, "gelu worst error %.3g", worst);
    /* tanh approximation would differ by ~1e-3 here: make sure it is the erf form */
    float v = 1.0f;
    k_gelu(ISA, &v, 1);
    CHECK_NEAR(v, 0.8413447460685429, 1e-6);
    free(x);
    free(y);
}

static void test_softmax(void)
{
    float x[7] = {1, 2, 3, 1000, -1000, 0.5f, 3};
    k_softmax_rows(ISA, x, 1, 7);
    double sum = 0;
    for (int i = 0; i < 7; i++)
        sum += x[i];
    CHECK_NEAR(sum, 1.0, 1e-6);
    CHECK_NEAR(x[3], 1.0, 1e-6);
    CHECK(x[4] == 0.0f);
    float y[2][5] = {{0, 0, 0, 0, 0}, {0, 1, 2, 3, 4}};
    k_softmax_rows(ISA, &y[0][0], 2, 5);
    CHECK_NEAR(y[0][2], 0.2, 1e-7);
    double z = exp(0) + exp(1) + exp(2) + exp(3) + exp(4);
    CHECK_NEAR(y[1][4], exp(4) / z, 1e-7);
}

static void test_layernorm(void)
{
    float x[2][4] = {{1, 2, 3, 4}, {10, 10, 10, 10}}, g[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0, 1};
    float y[2][4];
    k_layernorm(ISA, &x[0][0], 2, 4, g, b, 1e-6f, &y[0][0]);
    double mean = 2.5, var = 1.25, inv = 1.0 / sqrt(var + 1e-6);
    CHECK_NEAR(y[0][0], (1 - mean) * inv, 1e-6);
    CHECK_NEAR(y[0][2], 2 * (3 - mean) * inv, 1e-6);
    CHECK_NEAR(y[0][3], (4 - mean) * inv + 1, 1e-6);
    CHECK_NEAR(y[1][3], 1.0, 1e-6); /* constant row: zero variance, output = bias */
}

static void test_fuse_topk(void)
{
    float c[4] = {2, 1, 0, -1}, d[4] = {0, 3, 0, 0}, pc[4], pd[4], pf[4];
    deit_fuse(c, d, 4, 1, pc, pd, pf);
    double zc = exp(2) + exp(1) + exp(0) + exp(-1), zd = 3 + exp(3);
    CHECK_NEAR(pc[0], exp(2) / zc, 1e-7);
    CHECK_NEAR(pd[1], exp(3) / zd, 1e-7);
    CHECK_NEAR(pf[1], (exp(1) / zc + exp(3) / zd) / 2, 1e-7);
    /* not distilled: the distillation output mirrors the class head, fused = class probs */
    deit_fuse(c, d, 4, 0, pc, pd, pf);
    CHECK_NEAR(pd[1], pc[1], 0);
    CHECK_NEAR(pf[0], pc[0], 1e-7);

    float s[6] = {0.1f, 0.5f, 0.5f, 0.9f, 0.0f, 0.5f};
    int idx[6];
    CHECK_INT_EQ(deit_topk(s, 6, 4, idx), 4);
    CHECK_INT_EQ(idx[0], 3);
    CHECK_INT_EQ(idx[1], 1); /* ties keep the lower index first */
    CHECK_INT_EQ(idx[2], 2);
    CHECK_INT_EQ(idx[3], 5);
    CHECK_INT_EQ(deit_topk(s, 6, 99, idx), 6);
    CHECK_INT_EQ(idx[5], 4);
    CHECK_INT_EQ(deit_topk(s, 6, 0, idx), 0);
}

/* The kernel-set names and which sets this CPU runs: blas and generic everywhere. */
static void test_isa_names(void)
{
    gemm_isa best = gemm_isa_detect(), got;
    for (int i = 0; i <= (int)GEMM_ISA_BLAS; i++) {
        CHECK_INT_EQ(gemm_isa_parse(gemm_isa_name((gemm_isa)i), &got), 0);
        CHECK_INT_EQ(got, i);
    }
    CHECK_INT_EQ(gemm_isa_parse("sse9", &got), -1);
    CHECK(gemm_isa_runs(GEMM_ISA_BLAS) && gemm_isa_runs(GEMM_ISA_GENERIC) && gemm_isa_runs(best));
    CHECK(best != GEMM_ISA_GENERIC); /* a CPU without AVX2 gets blas */
    CHECK(!gemm_isa_packs(GEMM_ISA_BLAS) && gemm_isa_packs(GEMM_ISA_GENERIC) && gemm_isa_packs(GEMM_ISA_AVX2));
}

/* gemm on every own kernel set this CPU has and on OpenBLAS, against a double reference: odd
 * shapes (edge tiles and masked panel tails), row strides wider than the data, all epilogues, alpha, bias on and off, and
 * packing in two partial ranges (as the threads do). */
static void test_gemm(void)
{
    static const int ms[] = {1, 5, 13, 30}, ns[] = {1, 15, 16, 17, 33, 70}, ks[] = {1, 7, 64};
    srand(7);
    for (int isa = 0; isa <= (int)GEMM_ISA_BLAS; isa++)
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 6; b++)
                for (size_t q = 0; q < 3; q++)
                    for (int epi = 0; epi < 3; epi++) {
                        if (!gemm_isa_runs((gemm_isa)isa))
                            continue; /* an own kernel set this CPU lacks */
                        int m = ms[a], n = ns[b], k = ks[q], lda = k + 3, ldc = n + 5;
                        float *A = malloc((size_t)m * lda * sizeof(float));
                        float *W = malloc((size_t)n * k * sizeof(float)), *bias = malloc((size_t)n * sizeof(float));
                        float *Bt = malloc((size_t)k * n * sizeof(float)); /* W^T as [k][n] */
                        float *p1 = calloc(gemm_packed_floats(n, k), sizeof(float));
                        float *p2 = calloc(gemm_packed_floats(n, k), sizeof(float));
                        float *C = malloc((size_t)m * ldc * sizeof(float)), *C0 = malloc((size_t)m * ldc * sizeof(float));
                        for (int i = 0; i < m * lda; i++) A[i] = (float)rand() / RAND_MAX * 2 - 1;
                        for (int i = 0; i < n * k; i++) W[i] = (float)rand() / RAND_MAX * 2 - 1;
                        for (int i = 0; i < n; i++) bias[i] = (float)rand() / RAND_MAX;
                        for (int i = 0; i < m * ldc; i++) C[i] = C0[i] = (float)rand() / RAND_MAX;
                        for (int j = 0; j < n; j++)
                            for (int kk = 0; kk < k; kk++)
                                Bt[kk * n + j] = W[j * k + kk];
                        gemm_pack_t((gemm_isa)isa, W, (size_t)k, n, k, 0, n / 2, p1);
                        gemm_pack_t((gemm_isa)isa, W, (size_t)k, n, k, n / 2, n, p1);
                        gemm_pack_n((gemm_isa)isa, Bt, (size_t)n, n, k, 0, k / 3, p2);
                        gemm_pack_n((gemm_isa)isa, Bt, (size_t)n, n, k, k / 3, k, p2);
                        CHECK(memcmp(p1, p2, gemm_packed_floats(n, k) * sizeof(float)) == 0);
                        const float *bb = (m + n) % 2 ? bias : NULL;
                        float alpha = epi == 0 ? 0.125f : 1.0f;
                        gemm((gemm_isa)isa, m, n, k, alpha, A, (size_t)lda, p1, bb, C, (size_t)ldc,
                             (gemm_epilogue)epi);
                        double worst = 0;
                        int untouched = 1;
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < n; j++) {
                                double v = 0;
                                for (int kk = 0; kk < k; kk++)
                                    v += (double)A[i * lda + kk] * W[j * k + kk];
                                v = v * alpha + (bb ? bb[j] : 0);
                                if (epi == GEMM_GELU)
                                    v = 0.5 * v * (1 + erf(v / sqrt(2.0)));
                                else if (epi == GEMM_ADD)
                                    v += C0[i * ldc + j];
                                worst = fmax(worst, fabs(v - C[i * ldc + j]));
                            }
                            for (int j = n; j < ldc; j++)
                                untouched &= C[i * ldc + j] == C0[i * ldc + j];
                        }
                        CHECK_MSG(worst < 2e-5, "gemm %s %dx%dx%d epi %d: error %.3g",
                                  gemm_isa_name((gemm_isa)isa), m, n, k, epi, worst);
                        CHECK_MSG(untouched, "gemm %s %dx%dx%d wrote past n", gemm_isa_name((gemm_isa)isa), m, n, k);
                        free(A); free(W); free(bias); free(Bt); free(p1); free(p2); free(C); free(C0);
                    }
}

/* The vector softmax and LayerNorm bodies against double formulas on rows with tails. */
static void test_softmax_layernorm_wide(void)
{
    enum { D = 203 };
    float x[D], y[D], g[D], b[D];
    srand(3);
    for (int i = 0; i < D; i++) {
        x[i] = (float)rand() / RAND_MAX * 40 - 20;
        g[i] = (float)rand() / RAND_MAX + 0.5f;
        b[i] = (float)rand() / RAND_MAX - 0.5f;
        y[i] = x[i];
    }
    k_softmax_rows(ISA, y, 1, D);
    double mx = x[0], z = 0, worst = 0;
    for (int i = 0; i < D; i++) mx = fmax(mx, x[i]);
    for (int i = 0; i < D; i++) z += exp(x[i] - mx);
    for (int i = 0; i < D; i++) worst = fmax(worst, fabs(y[i] - exp(x[i] - mx) / z));
    CHECK_MSG(worst < 1e-7, "softmax width %d: %.3g", D, worst);
    k_layernorm(ISA, x, 1, D, g, b, 1e-6f, y);
    double mean = 0, var = 0;
    for (int i = 0; i < D; i++) mean += x[i];
    mean /= D;
    for (int i = 0; i < D; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= D;
    worst = 0;
    for (int i = 0; i < D; i++)
        worst = fmax(worst, fabs(y[i] - ((x[i] - mean) / sqrt(var + 1e-6) * g[i] + b[i])));
    CHECK_MSG(worst < 2e-6, "layernorm width %d: %.3g", D, worst);
}

int main(void)
{
    for (int isa = 0; isa <= (int)GEMM_ISA_BLAS; isa++) {
        if (!gemm_isa_runs((gemm_isa)isa))
            continue;
        ISA = (gemm_isa)isa;
        test_gelu();
        test_softmax();
        test_layernorm();
        test_softmax_layernorm_wide();
    }
    test_fuse_topk();
    test_isa_names();
    test_gemm();
    return check_summary("test_kernels");
}
