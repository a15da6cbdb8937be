/* test_gemm_lp.c — the bf16 and int8 products against double-precision references built from the
 * documented packed layouts, on odd shapes (row, column and k remainders), every epilogue, and rows
 * computed alone vs inside a larger block (bit-identical: per-row quantization). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "gemm_lp.h"

static unsigned seed = 7;
static float frand(void)
{
    seed = seed * 1103515245u + 12345u;
    return (float)((seed >> 8) & 0xffff) / 65535.0f * 2.0f - 1.0f;
}

static double bf16_to_d(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double gelu_d(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }

static double epi_d(double v, const float *bias, int j, double c, gemm_epilogue epi)
{
    v += bias ? bias[j] : 0.0;
    return epi == GEMM_GELU ? gelu_d(v) : epi == GEMM_ADD ? c + v : v;
}

static void test_bf16_round(void)
{
    CHECK_INT_EQ(lp_bf16_round(1.0f), 0x3f80);
    CHECK_INT_EQ(lp_bf16_round(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0); 1 + 3*2^-8 rounds up */
    CHECK_INT_EQ(lp_bf16_round(1.0f + 1.0f / 256), 0x3f80);
    CHECK_INT_EQ(lp_bf16_round(1.0f + 3.0f / 256), 0x3f82);
    CHECK_INT_EQ(lp_bf16_round(1.0f + 1.0f / 256 + 1.0f / 65536), 0x3f81);
    CHECK(lp_bf16_round(NAN) != 0x7f80 && (lp_bf16_round(NAN) & 0x7f80) == 0x7f80);
    CHECK_INT_EQ(lp_bf16_round(INFINITY), 0x7f80);
}

static void test_bf16(int m, int n, int k, gemm_epilogue epi, int with_bias)
{
    int kp = lp_kpad(LP_BF16, k), npad = (n + 15) / 16 * 16;
    float *a = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), *bias = malloc((size_t)n * 4);
    float *c = malloc((size_t)m * n * 4), *c0 = malloc((size_t)m * n * 4), *c1 = malloc((size_t)n * 4);
    uint16_t *ab = malloc((size_t)m * (kp + 6) * 2), *bp = malloc(lp_packed_elems(LP_BF16, n, k) * 2);
    size_t lda = (size_t)kp + 6;
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = frand() * 3;
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand() * 0.2f;
    for (int i = 0; i < n; i++) bias[i] = frand();
    for (size_t i = 0; i < (size_t)m * n; i++) c[i] = c0[i] = frand();
    gemm_bf16_pack_t(w, (size_t)k, n, k, bp);
    gemm_bf16_round_rows(a, (size_t)k, m, k, ab, lda);
    /* layouts as documented: rounding, zero pads */
    int layout_ok = 1;
    for (int i = 0; i < m; i++) {
        for (int kk = 0; kk < k; kk++)
            layout_ok &= ab[(size_t)i * lda + kk] == lp_bf16_round(a[(size_t)i * k + kk]);
        if (kp > k)
            layout_ok &= ab[(size_t)i * lda + k] == 0;
    }
    for (int j = 0; j < npad; j++)
        for (int kk = 0; kk < kp; kk++) {
            uint16_t got = bp[((size_t)(j / 16) * (kp / 2) + kk / 2) * 32 + (j % 16) * 2 + kk % 2];
            layout_ok &= got == (j < n && kk < k ? lp_bf16_round(w[(size_t)j * k + kk]) : 0);
        }
    CHECK_MSG(layout_ok, "bf16 %dx%dx%d: packed layouts", m, n, k);
    const float *bb = with_bias ? bias : NULL;
    gemm_bf16(m, n, k, ab, lda, bp, bb, c, (size_t)n, epi);
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int kk = 0; kk < k; kk++) {
                double t = bf16_to_d(lp_bf16_round(a[(size_t)i * k + kk])) *
                           bf16_to_d(lp_bf16_round(w[(size_t)j * k + kk]));
                s += t;
                mag += fabs(t);
            }
            double want = epi_d(s, bb, j, c0[(size_t)i * n + j], epi);
            double err = fabs(c[(size_t)i * n + j] - want) / (mag + 1.0);
            worst = err > worst ? err : worst;
        }
    CHECK_MSG(worst < 1e-6, "bf16 %dx%dx%d epi %d: error %.3g", m, n, k, (int)epi, worst);
    /* the last row alone gives the same bits as inside the block */
    memcpy(c1, c0 + (size_t)(m - 1) * n, (size_t)n * 4);
    gemm_bf16(1, n, k, ab + (size_t)(m - 1) * lda, lda, bp, bb, c1, (size_t)n, epi);
    CHECK_MSG(memcmp(c1, c + (size_t)(m - 1) * n, (size_t)n * 4) == 0, "bf16 %dx%dx%d: row alone", m, n, k);
    /* bf16 output: the f32 result of the same product rounded, and an odd n's pad element zeroed */
    if (epi != GEMM_ADD) {
        size_t ldo = (size_t)n + 3;
        uint16_t *o16 = malloc((size_t)m * ldo * 2);
        for (size_t i = 0; i < (size_t)m * ldo; i++) o16[i] = 0xffff;
        gemm_bf16_out16(m, n, k, ab, lda, bp, bb, o16, ldo, epi);
        int out_ok = 1;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++)
                out_ok &= o16[(size_t)i * ldo + j] == lp_bf16_round(c[(size_t)i * n + j]);
            out_ok &= o16[(size_t)i * ldo + n] == (n & 1 ? 0 : 0xffff);
        }
        CHECK_MSG(out_ok, "bf16 %dx%dx%d epi %d: bf16 output = rounded f32 output", m, n, k, (int)epi);
        free(o16);
    }
    free(a); free(w); free(bias); free(c); free(c0); free(c1); free(ab); free(bp);
}

/* Attention's packs: K^T filled by callers owning row ranges (odd boundaries included) equals the
 * whole-matrix pack; V (B itself, k = tokens) equals the pack of its transpose; the scaled rounding
 * equals rounding the scaled values. Buffers start zeroed, as the forward's do. */
static void test_bf16_row_packs(int n, int k, int split)
{
    size_t elems = lp_packed_elems(LP_BF16, n, k), ld = (size_t)k + 3;
    float *w = malloc((size_t)n * ld * 4), *wt = malloc((size_t)k * n * 4);
    uint16_t *whole = calloc(elems, 2), *parts = calloc(elems, 2);
    for (int j = 0; j < n; j++)
        for (int kk = 0; kk < k; kk++)
            w[(size_t)j * ld + kk] = wt[(size_t)kk * n + j] = frand() * 4;
    gemm_bf16_pack_t(w, ld, n, k, whole);
    gemm_bf16_pack_t_rows(w, ld, k, split, n, parts);
    gemm_bf16_pack_t_rows(w, ld, k, 0, split, parts);
    CHECK(memcmp(whole, parts, elems * 2) == 0);
    /* V: B[k][n] = W^T, rows written in two ranges split at an odd k */
    size_t velems = lp_packed_elems(LP_BF16, k, n);
    uint16_t *vwhole = calloc(velems, 2), *vparts = calloc(velems, 2);
    float *b = malloc((size_t)n * (k + 1) * 4); /* B[n rows of tokens][k columns], stride k + 1 */
    for (int t = 0; t < n; t++)
        for (int d = 0; d < k; d++)
            b[(size_t)t * (k + 1) + d] = w[(size_t)t * ld + d];
    /* B = b (n x k as tokens x dims) packs like W^T with W = b^T, whose rows are b's columns */
    float *bt = malloc((size_t)k * n * 4);
    for (int t = 0; t < n; t++)
        for (int d = 0; d < k; d++)
            bt[(size_t)d * n + t] = b[(size_t)t * (k + 1) + d];
    gemm_bf16_pack_t(bt, (size_t)n, k, n, vwhole);
    int cut = split | 1;
    cut = cut > n ? n : cut;
    gemm_bf16_pack_n_rows(b, (size_t)k + 1, k, n, cut, n, vparts);
    gemm_bf16_pack_n_rows(b, (size_t)k + 1, k, n, 0, cut, vparts);
    CHECK(memcmp(vwhole, vparts, velems * 2) == 0);
    /* scaled rounding */
    int kp = lp_kpad(LP_BF16, k), rows_ok = 1;
    uint16_t *r = malloc((size_t)n * kp * 2);
    gemm_bf16_round_rows_scaled(w, ld, n, k, 0.125f, r, (size_t)kp);
    for (int j = 0; j < n; j++)
        for (int kk = 0; kk < kp; kk++)
            rows_ok &= r[(size_t)j * kp + kk] == (kk < k ? lp_bf16_round(w[(size_t)j * ld + kk] * 0.125f) : 0);
    CHECK(rows_ok);
    free(w); free(wt); free(whole); free(parts); free(vwhole); free(vparts); free(b); free(bt); free(r);
}

static void test_int8(int m, int n, int k, gemm_epilogue epi, int with_bias)
{
    int kp = lp_kpad(LP_INT8, k), npad = (n + 15) / 16 * 16;
    size_t lda = (size_t)kp + 4;
    float *a = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), *bias = malloc((size_t)n * 4);
    float *c = malloc((size_t)m * n * 4), *c0 = malloc((size_t)m * n * 4), *c1 = malloc((size_t)n * 4);
    float *as = malloc((size_t)m * 4), *ws = malloc((size_t)npad * 4);
    int32_t *az = malloc((size_t)m * 4), *cs = malloc((size_t)npad * 4);
    uint8_t *aq = malloc((size_t)m * lda);
    int8_t *bp = malloc(lp_packed_elems(LP_INT8, n, k));
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = frand() * 3 + 0.5f; /* skewed: zero point != 128 */
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand() * 0.2f;
    for (int i = 0; i < n; i++) bias[i] = frand();
    for (size_t i = 0; i < (size_t)m * n; i++) c[i] = c0[i] = frand();
    gemm_s8_pack_t(w, (size_t)k, n, k, bp, ws, cs);
    gemm_u8_quant_rows(a, (size_t)k, m, k, aq, lda, as, az);
    /* quantization: every value within half a step, pads zero, colsum the packed column's sum */
    int q_ok = 1;
    for (int i = 0; i < m; i++) {
        for (int kk = 0; kk < k; kk++) {
            double back = as[i] * ((double)aq[(size_t)i * lda + kk] - az[i]);
            q_ok &= fabs(back - a[(size_t)i * k + kk]) <= as[i] * 0.5001;
        }
        for (int kk = k; kk < kp; kk++)
            q_ok &= aq[(size_t)i * lda + kk] == 0;
    }
    for (int j = 0; j < npad; j++) {
        int32_t sum = 0;
        for (int kk = 0; kk < kp; kk++) {
            int8_t q = bp[((size_t)(j / 16) * (kp / 4) + kk / 4) * 64 + (j % 16) * 4 + kk % 4];
            sum += q;
            if (j < n && kk < k)
                q_ok &= fabs(ws[j] * q - w[(size_t)j * k + kk]) <= ws[j] * 0.5001 && q >= -127;
            else
                q_ok &= q == 0;
        }
        if (j < n)
            q_ok &= sum == cs[j];
    }
    CHECK_MSG(q_ok, "int8 %dx%dx%d: quantization and layouts", m, n, k);
    const float *bb = with_bias ? bias : NULL;
    gemm_int8(m, n, k, aq, lda, as, az, bp, ws, cs, bb, c, (size_t)n, epi);
    double worst = 0, rel_num = 0, rel_den = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, exact = 0;
            for (int kk = 0; kk < k; kk++) {
                int8_t q = bp[((size_t)(j / 16) * (kp / 4) + kk / 4) * 64 + (j % 16) * 4 + kk % 4];
                s += ((double)aq[(size_t)i * lda + kk] - az[i]) * q;
                exact += (double)a[(size_t)i * k + kk] * w[(size_t)j * k + kk];
            }
            double want = epi_d(s * as[i] * ws[j], bb, j, c0[(size_t)i * n + j], epi);
            double got = c[(size_t)i * n + j];
            double err = fabs(got - want) / (fabs(want) + 1.0);
            worst = err > worst ? err : worst;
            double ef = epi_d(exact, bb, j, c0[(size_t)i * n + j], epi);
            rel_num += (got - ef) * (got - ef);
            rel_den += ef * ef;
        }
    CHECK_MSG(worst < 2e-6, "int8 %dx%dx%d epi %d: error vs dequantized math %.3g", m, n, k, (int)epi, worst);
    CHECK_MSG(sqrt(rel_num / rel_den) < 0.03, "int8 %dx%dx%d: relative L2 vs f32 math %.3g", m, n, k,
              sqrt(rel_num / rel_den));
    memcpy(c1, c0 + (size_t)(m - 1) * n, (size_t)n * 4);
    gemm_int8(1, n, k, aq + (size_t)(m - 1) * lda, lda, as + m - 1, az + m - 1, bp, ws, cs, bb, c1,
              (size_t)n, epi);
    CHECK_MSG(memcmp(c1, c + (size_t)(m - 1) * n, (size_t)n * 4) == 0, "int8 %dx%dx%d: row alone", m, n, k);
    free(a); free(w); free(bias); free(c); free(c0); free(c1); free(as); free(ws); free(az); free(cs);
    free(aq); free(bp);
}

/* A NaN or infinite activation row gives NaN outputs (as f32 would), never finite garbage. */
static void test_int8_nonfinite(void)
{
    int k = 20, n = 16;
    float a[2 * 20], w[16 * 20], ws[16], as[2], c[2 * 16];
    int32_t cs[16], az[2];
    uint8_t aq[2 * 20];
    int8_t bp[16 * 20];
    for (int i = 0; i < 2 * k; i++) a[i] = frand();
    for (int i = 0; i < n * k; i++) w[i] = frand();
    a[3] = NAN;
    a[k + 5] = INFINITY;
    gemm_s8_pack_t(w, (size_t)k, n, k, bp, ws, cs);
    gemm_u8_quant_rows(a, (size_t)k, 2, k, aq, (size_t)k, as, az);
    gemm_int8(2, n, k, aq, (size_t)k, as, az, bp, ws, cs, NULL, c, (size_t)n, GEMM_STORE);
    int all_nan = 1;
    for (int i = 0; i < 2 * n; i++)
        all_nan &= c[i] != c[i];
    CHECK_MSG(all_nan, "non-finite rows must give NaN");
}

/* Finite rows at the ends of float's range: a span over FLT_MAX (-2e38 .. 2e38) and values below
 * FLT_MIN * 255 give finite outputs close to the f32 product, never NaN from an infinite scale or
 * an infinite 1/scale. */
static void test_int8_extreme_rows(void)
{
    enum { K = 32, N = 16 };
    float a[2 * K], w[N * K], ws[N], as[2], c[2 * N];
    int32_t cs[N], az[2];
    uint8_t aq[2 * K];
    int8_t bp[N * K];
    for (int i = 0; i < K; i++) {
        a[i] = i == 0 ? 2e38f : i == 1 ? -2e38f : 0.0f;
        a[K + i] = (i % 3 - 1) * 1e-40f; /* denormals */
    }
    for (int i = 0; i < N * K; i++) w[i] = 0.25f * frand(); /* outputs up to 1e38: still finite */
    gemm_s8_pack_t(w, (size_t)K, N, K, bp, ws, cs);
    gemm_u8_quant_rows(a, (size_t)K, 2, K, aq, (size_t)K, as, az);
    CHECK_MSG(isfinite(as[0]) && isfinite(as[1]) && as[1] > 0, "scales %g %g", as[0], as[1]);
    gemm_int8(2, N, K, aq, (size_t)K, as, az, bp, ws, cs, NULL, c, (size_t)N, GEMM_STORE);
    int finite = 1;
    double worst = 0, biggest = 0;
    for (int j = 0; j < N; j++) {
        double ref = 0;
        for (int i = 0; i < K; i++) ref += (double)a[i] * w[(size_t)j * K + i];
        finite &= isfinite(c[j]) && isfinite(c[N + j]);
        worst = fmax(worst, fabs(c[j] - ref));
        biggest = fmax(biggest, fabs(ref));
    }
    CHECK_MSG(finite, "extreme rows must give finite outputs");
    CHECK_MSG(worst < 0.02 * biggest, "huge-span row: worst error %.3g of outputs up to %.3g", worst, biggest);
}

int main(void)
{
    test_bf16_round();
    static const int shapes[][3] = {{1, 16, 4}, {5, 40, 67}, {12, 64, 192}, {13, 10, 3},
                                    {37, 48, 64}, {25, 192, 768}, {3, 1000, 33},
                                    /* 6-row x 64-column tiles (int8, bf16) with every row remainder */
                                    {11, 128, 40}, {16, 80, 20}, {9, 144, 8}, {8, 64, 12}, {7, 200, 36},
                                    {4, 129, 16}, {7, 67, 20}}; /* odd n: the bf16 output pad */
    const gemm_epilogue epis[] = {GEMM_STORE, GEMM_ADD, GEMM_GELU};
    const char *why = lp_isa_missing(gemm_isa_detect(), LP_BF16);
    if (why) {
        printf("test_gemm_lp: bf16 kernels NOT checked: this CPU lacks %s\n", why);
    } else {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int e = 0; e < 3; e++)
                test_bf16(shapes[s][0], shapes[s][1], shapes[s][2], epis[e], (int)(s + e) % 3 != 0);
        test_bf16_row_packs(198, 64, 99);
        test_bf16_row_packs(197, 64, 100);
        test_bf16_row_packs(50, 33, 17);
        test_bf16_row_packs(7, 16, 0);
    }
    why = lp_isa_missing(gemm_isa_detect(), LP_INT8);
    if (why) {
        printf("test_gemm_lp: int8 kernels NOT checked: this CPU lacks %s\n", why);
    } else {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int e = 0; e < 3; e++)
                test_int8(shapes[s][0], shapes[s][1], shapes[s][2], epis[e], (int)(s + e) % 3 != 0);
        test_int8_nonfinite();
        test_int8_extreme_rows();
    }
    /* an avx2 or generic kernel set refuses both, naming the instruction set */
    why = lp_isa_missing(GEMM_ISA_AVX2, LP_BF16);
    CHECK(why && strstr(why, "AVX512_BF16"));
    why = lp_isa_missing(GEMM_ISA_GENERIC, LP_INT8);
    CHECK(why && strstr(why, "AVX512_VNNI"));
    why = lp_isa_missing(GEMM_ISA_BLAS, LP_BF16);
    CHECK(why && strstr(why, "AVX512_BF16"));
    return check_summary("test_gemm_lp");
}
