/* test_params.c — deit_params: the defaults, precision names both ways, and what
 * deit_model_open_with / deit_state_new_with accept and refuse. */
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "deit.h"
#include "gemm_lp.h"
#include "state.h"

#define MODEL "tests/fixtures/models/timm-deit-reduced"

static void test_defaults(void)
{
    deit_params p = deit_default_params();
    CHECK_INT_EQ(p.precision, DEIT_PRECISION_F32);
    CHECK(p.isa == NULL);
    CHECK_INT_EQ(p.threads, 1);
    CHECK_INT_EQ(p.max_batch, 1);
}

static void test_precision_names(void)
{
    static const struct { deit_precision p; const char *name; } want[] = {
        {DEIT_PRECISION_F32, "f32"}, {DEIT_PRECISION_BF16, "bf16"}, {DEIT_PRECISION_INT8, "int8"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_STR_EQ(deit_precision_name(want[i].p), want[i].name);
        deit_precision got = (deit_precision)-1;
        CHECK_INT_EQ(deit_precision_parse(want[i].name, &got), 0);
        CHECK_INT_EQ(got, want[i].p);
    }
    CHECK_STR_EQ(deit_precision_name((deit_precision)3), "unknown");
    CHECK_STR_EQ(deit_precision_name((deit_precision)-1), "unknown");
    static const char *bad[] = {"F32", "fp32", "float32", "", "bf16 ", "int4", "f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        deit_precision got = DEIT_PRECISION_INT8;
        CHECK_MSG(deit_precision_parse(bad[i], &got) == -1, "'%s' parsed", bad[i]);
        CHECK_INT_EQ(got, DEIT_PRECISION_INT8); /* untouched on failure */
    }
    deit_precision got;
    CHECK_INT_EQ(deit_precision_parse(NULL, &got), -1);
}

/* Opening with p must fail with `status` and a message containing `msg`. */
static void expect_open_fail(const deit_params *p, int status, const char *msg)
{
    char err[256] = "";
    deit_model *m = (deit_model *)&err; /* must be reset to NULL */
    CHECK_INT_EQ(deit_model_open_with(MODEL, p, &m, err, sizeof err), status);
    CHECK(m == NULL);
    CHECK_MSG(strstr(err, msg) != NULL, "'%s' lacks '%s'", err, msg);
}

/* Class logits of one pseudo-random input through a fresh state of m. */
static void forward_once(const deit_model *m, const float *px, float *cls)
{
    deit_state *s = deit_state_new_with(m, NULL);
    CHECK(s != NULL);
    if (s)
        CHECK_INT_EQ(deit_forward(m, s, px, 1, cls, NULL), DEIT_OK);
    deit_state_free(s);
}

static void test_open_with(void)
{
    deit_params p = deit_default_params();
    /* bf16 and int8 refuse a kernel set without their instructions, naming them */
    p.isa = "avx2";
    p.precision = DEIT_PRECISION_BF16;
    expect_open_fail(&p, DEIT_EUNSUPPORTED, "precision bf16 needs AVX512_BF16");
    p.isa = "generic";
    p.precision = DEIT_PRECISION_INT8;
    expect_open_fail(&p, DEIT_EUNSUPPORTED, "precision int8 needs AVX512_VNNI");
    p.isa = "blas";
    expect_open_fail(&p, DEIT_EUNSUPPORTED, "precision int8 needs AVX512_VNNI");
    p.isa = NULL;
    for (int prec = DEIT_PRECISION_BF16; prec <= DEIT_PRECISION_INT8; prec++) {
        /* on the CPU's best kernels: opens where the CPU has them, else the same refusal */
        char err[256];
        deit_model *lm = NULL;
        p.precision = (deit_precision)prec;
        const char *missing = lp_isa_missing(default_isa(MODEL), (lp_kind)prec);
        int rc = deit_model_open_with(MODEL, &p, &lm, err, sizeof err);
        CHECK_INT_EQ(rc, missing ? DEIT_EUNSUPPORTED : DEIT_OK);
        if (lm)
            CHECK_INT_EQ(deit_model_precision(lm), prec);
        if (missing)
            CHECK(strstr(err, missing) != NULL);
        deit_model_free(lm);
    }
    p.precision = (deit_precision)7;
    expect_open_fail(&p, DEIT_EINVAL, "unknown precision 7");
    p = deit_default_params();
    p.isa = "sse9";
    expect_open_fail(&p, DEIT_EINVAL, "unknown isa 'sse9'");

    /* the default (NULL) and explicit "generic" both open; generic is honoured and computes the
     * same logits as the CPU's best kernels up to float reassociation */
    char err[256];
    deit_model *best = NULL, *gen = NULL;
    unsetenv("DEIT_ISA");
    CHECK_INT_EQ(deit_model_open_with(MODEL, NULL, &best, err, sizeof err), DEIT_OK);
    p = deit_default_params();
    p.isa = "generic";
    CHECK_INT_EQ(deit_model_open_with(MODEL, &p, &gen, err, sizeof err), DEIT_OK);
    if (!best || !gen) {
        deit_model_free(best);
        deit_model_free(gen);
        return;
    }
    CHECK_STR_EQ(deit_model_isa(gen), "generic");
    CHECK_INT_EQ(deit_model_precision(best), DEIT_PRECISION_F32);
    const char *top = deit_model_isa(best);
    CHECK(strcmp(top, "avx512") == 0 || strcmp(top, "avx2") == 0 || strcmp(top, "blas") == 0);
    /* an explicit isa is checked against the CPU: asking for the best one itself works */
    deit_model *again = NULL;
    p.isa = top;
    CHECK_INT_EQ(deit_model_open_with(MODEL, &p, &again, err, sizeof err), DEIT_OK);
    if (again)
        CHECK_STR_EQ(deit_model_isa(again), top);
    deit_model_free(again);

    size_t nin = deit_input_floats(best);
    int K = deit_model_classes(best);
    float *px = malloc(nin * sizeof(float)), *a = calloc((size_t)K, sizeof(float)),
          *b = calloc((size_t)K, sizeof(float));
    unsigned seed = 7;
    for (size_t i = 0; i < nin; i++) {
        seed = seed * 1103515245u + 12345u;
        px[i] = (float)((seed >> 8) & 0xffff) / 65535.0f * 4.0f - 2.0f;
    }
    forward_once(best, px, a);
    forward_once(gen, px, b);
    double worst = 0;
    for (int i = 0; i < K; i++)
        worst = fabs((double)a[i] - b[i]) > worst ? fabs((double)a[i] - b[i]) : worst;
    CHECK_MSG(worst < 1e-3, "generic vs %s: %.3g", top, worst);
    /* the OpenBLAS backend opens on any CPU and computes the same logits up to reassociation */
    deit_model *blas = NULL;
    p.isa = "blas";
    CHECK_INT_EQ(deit_model_open_with(MODEL, &p, &blas, err, sizeof err), DEIT_OK);
    if (blas) {
        CHECK_STR_EQ(deit_model_isa(blas), "blas");
        forward_once(blas, px, b);
        worst = 0;
        for (int i = 0; i < K; i++)
            worst = fabs((double)a[i] - b[i]) > worst ? fabs((double)a[i] - b[i]) : worst;
        CHECK_MSG(worst < 1e-3, "blas vs %s: %.3g", top, worst);
    }
    deit_model_free(blas);

    /* $DEIT_ISA narrows the default (isa NULL) but never an explicit isa, and never widens */
    setenv("DEIT_ISA", "generic", 1);
    deit_model *env = NULL;
    CHECK_INT_EQ(deit_model_open_with(MODEL, NULL, &env, err, sizeof err), DEIT_OK);
    if (env)
        CHECK_STR_EQ(deit_model_isa(env), "generic");
    deit_model_free(env);
    env = NULL;
    p.isa = top;
    CHECK_INT_EQ(deit_model_open_with(MODEL, &p, &env, err, sizeof err), DEIT_OK);
    if (env)
        CHECK_STR_EQ(deit_model_isa(env), top);
    deit_model_free(env);
    env = NULL;
    setenv("DEIT_ISA", "avx512-but-not-a-name", 1);
    CHECK_INT_EQ(deit_model_open_with(MODEL, NULL, &env, err, sizeof err), DEIT_OK);
    if (env)
        CHECK_STR_EQ(deit_model_isa(env), top);
    deit_model_free(env);
    unsetenv("DEIT_ISA");

    /* deit_state_new_with: the team and batch bounds */
    static const struct { int threads, max_batch, ok; } st[] = {
        {1, 1, 1}, {64, 1, 1}, {2, 1024, 1}, {0, 1, 0}, {65, 1, 0}, {-1, 1, 0}, {1, 0, 0}, {1, 1025, 0}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
        deit_params q = deit_default_params();
        q.threads = st[i].threads;
        q.max_batch = st[i].max_batch;
        deit_state *s = deit_state_new_with(best, &q);
        CHECK_MSG((s != NULL) == st[i].ok, "threads %d max_batch %d", st[i].threads, st[i].max_batch);
        if (s)
            CHECK_INT_EQ(deit_state_threads(s), st[i].threads);
        deit_state_free(s);
    }
    CHECK(deit_state_new_with(NULL, NULL) == NULL);
    free(px);
    free(a);
    free(b);
    deit_model_free(best);
    deit_model_free(gen);
}

int main(void)
{
    test_defaults();
    test_precision_names();
    test_open_with();
    return check_summary("test_params");
}
