/* lp_bench.c — a DeiT block's four linear products at f32, bf16 and int8: the engine's kernels against
 * oneDNN's matmul (Debian libdnnl 2.6), same threads, same shapes. Not part of the product: it
 * decides which library the engine ships per precision (bench/README.md, "Kernel library").
 *
 * Ours: activations rounded (bf16) or quantized per row (int8) as in the forward pass, then the
 * packed product with bias in the epilogue; rows split between threads like the engine's chunks.
 * oneDNN: matmul with weights reordered once to the layout it asks for; f32 and bf16 with bias and
 * f32 output; int8 u8 x s8 -> s32 (scales applied at run time put 2.6 on its slow gemm:jit path),
 * so its int8 time excludes the dequantization epilogue and the activation quantization, which
 * ours includes. Usage: lp-bench [batch] [threads] [reps] [width: 192 tiny, 384 small, 768 base];
 * LP_BENCH_PRECISION=f32|bf16|int8 runs that precision alone.
 */
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"
#include "gemm_lp.h"

void omp_set_num_threads(int n);

#define CK(x)                                                                                      \
    do {                                                                                           \
        dnnl_status_t st_ = (x);                                                                   \
        if (st_ != dnnl_success) {                                                                 \
            fprintf(stderr, "%s:%d: %s failed (%d)\n", __FILE__, __LINE__, #x, (int)st_);          \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { NSHAPE = 4 };
static const int SHAPE[NSHAPE][2] = {{3, 1}, {1, 1}, {4, 1}, {1, 4}}; /* n, k in model widths */
static const char *SNAME[NSHAPE] = {"qkv", "proj", "fc1", "fc2"};

typedef struct {
    int n, k;
    float *w, *bias, *wp;      /* W[n][k], bias, f32 packed */
    uint16_t *wb;              /* bf16 packed */
    int8_t *wq;                /* int8 packed */
    float *ws;
    int32_t *wc;
} layer;

/* ---- our kernels on a team of pthreads --------------------------------------------------------- */

typedef struct {
    int prec, m, threads, reps;
    layer *L;
    int ld;                    /* row stride of a, c and aq: the widest k or n (4 x width) */
    float *a, *c;              /* [m][ld] input, [m][ld] output */
    uint8_t *aq;               /* [m][ld*2] scratch */
    float *as;
    int32_t *az;
    pthread_barrier_t bar;
    double *times;
} team;

typedef struct {
    team *t;
    int id;
} member;

static void run_rows(team *t, int s, int r0, int r1)
{
    layer *l = &t->L[s];
    int nr = r1 - r0;
    size_t ld = (size_t)t->ld;
    const float *a = t->a + (size_t)r0 * ld;
    float *c = t->c + (size_t)r0 * ld;
    if (t->prec == 0) {
        gemm(GEMM_ISA_AVX512, nr, l->n, l->k, 1.0f, a, ld, l->wp, l->bias, c, ld, GEMM_STORE);
    } else if (t->prec == 1) {
        uint16_t *ab = (uint16_t *)t->aq + (size_t)r0 * ld;
        gemm_bf16_round_rows(a, ld, nr, l->k, ab, ld);
        gemm_bf16(nr, l->n, l->k, ab, ld, l->wb, l->bias, c, ld, GEMM_STORE);
    } else {
        uint8_t *aq = t->aq + (size_t)r0 * ld;
        gemm_u8_quant_rows(a, ld, nr, l->k, aq, ld, t->as + r0, t->az + r0);
        gemm_int8(nr, l->n, l->k, aq, ld, t->as + r0, t->az + r0, l->wq, l->ws, l->wc, l->bias, c,
                  ld, GEMM_STORE);
    }
}

/* One rep = each shape once over all rows (thread i takes the i-th share), timed per shape. */
static void *member_main(void *arg)
{
    member *me = arg;
    team *t = me->t;
    int share = (t->m + t->threads - 1) / t->threads;
    share = (share + 11) / 12 * 12;
    int r0 = me->id * share, r1 = r0 + share < t->m ? r0 + share : t->m;
    for (int rep = 0; rep < t->reps; rep++)
        for (int s = 0; s < NSHAPE; s++) {
            pthread_barrier_wait(&t->bar);
            double t0 = now_s();
            if (r1 > r0)
                run_rows(t, s, r0, r1);
            pthread_barrier_wait(&t->bar);
            if (me->id == 0)
                t->times[(size_t)rep * NSHAPE + s] = now_s() - t0;
        }
    return NULL;
}

static void ours(team *t, double med[NSHAPE])
{
    pthread_t th[16];
    member mem[16];
    pthread_barrier_init(&t->bar, NULL, (unsigned)t->threads);
    for (int i = 1; i < t->threads; i++) {
        mem[i] = (member){t, i};
        pthread_create(&th[i], NULL, member_main, &mem[i]);
    }
    mem[0] = (member){t, 0};
    member_main(&mem[0]);
    for (int i = 1; i < t->threads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&t->bar);
    double *v = malloc((size_t)t->reps * sizeof(double));
    for (int s = 0; s < NSHAPE; s++) {
        for (int r = 0; r < t->reps; r++)
            v[r] = t->times[(size_t)r * NSHAPE + s];
        qsort(v, (size_t)t->reps, sizeof(double), cmp_d);
        med[s] = v[t->reps / 2];
    }
    free(v);
}

/* ---- oneDNN ------------------------------------------------------------------------------------ */

static dnnl_memory_t mem_of(dnnl_engine_t eng, const dnnl_memory_desc_t *md, void *data)
{
    dnnl_memory_t mem;
    CK(dnnl_memory_create(&mem, md, eng, data ? data : DNNL_MEMORY_ALLOCATE));
    return mem;
}

/* Median seconds of one matmul m x n x k at prec, and the implementation oneDNN picked. */
static double onednn(dnnl_engine_t eng, dnnl_stream_t strm, int prec, int m, const layer *l,
                     int reps, char *impl, size_t impl_len)
{
    dnnl_data_type_t ta = prec == 0 ? dnnl_f32 : prec == 1 ? dnnl_bf16 : dnnl_u8;
    dnnl_data_type_t tw = prec == 0 ? dnnl_f32 : prec == 1 ? dnnl_bf16 : dnnl_s8;
    dnnl_data_type_t tc = prec == 2 ? dnnl_s32 : dnnl_f32;
    dnnl_dims_t ad = {m, l->k}, wd = {l->k, l->n}, cd = {m, l->n}, bd = {1, l->n};
    dnnl_memory_desc_t a_md, w_any, w_plain, c_md, b_md;
    CK(dnnl_memory_desc_init_by_tag(&a_md, 2, ad, ta, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&w_any, 2, wd, tw, dnnl_format_tag_any));
    CK(dnnl_memory_desc_init_by_tag(&w_plain, 2, wd, tw, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&c_md, 2, cd, tc, dnnl_ab));
    CK(dnnl_memory_desc_init_by_tag(&b_md, 2, bd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t mm;
    CK(dnnl_matmul_desc_init(&mm, &a_md, &w_any, prec == 2 ? NULL : &b_md, &c_md));
    dnnl_primitive_desc_t pd;
    CK(dnnl_primitive_desc_create(&pd, &mm, NULL, eng, NULL));
    const char *name = NULL;
    CK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
    snprintf(impl, impl_len, "%s", name ? name : "?");
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    /* plain weights (values irrelevant for timing) reordered once into oneDNN's layout */
    dnnl_memory_t a_m = mem_of(eng, &a_md, NULL), c_m = mem_of(eng, &c_md, NULL);
    dnnl_memory_t b_m = mem_of(eng, &b_md, l->bias), wp_m = mem_of(eng, &w_plain, NULL);
    dnnl_memory_t w_m = mem_of(eng, w_md, NULL);
    void *p;
    CK(dnnl_memory_get_data_handle(a_m, &p));
    memset(p, 1, (size_t)m * l->k * (prec == 0 ? 4 : prec == 1 ? 2 : 1));
    CK(dnnl_memory_get_data_handle(wp_m, &p));
    memset(p, 1, (size_t)l->n * l->k * (prec == 0 ? 4 : prec == 1 ? 2 : 1));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder, prim;
    CK(dnnl_reorder_primitive_desc_create(&rpd, &w_plain, eng, w_md, eng, NULL));
    CK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, wp_m}, {DNNL_ARG_TO, w_m}};
    CK(dnnl_primitive_execute(reorder, strm, 2, rargs));
    CK(dnnl_primitive_create(&prim, pd));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, a_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_DST, c_m},
                               {DNNL_ARG_BIAS, b_m}};
    double *v = malloc((size_t)reps * sizeof(double));
    for (int r = -3; r < reps; r++) {
        double t0 = now_s();
        CK(dnnl_primitive_execute(prim, strm, prec == 2 ? 3 : 4, args));
        CK(dnnl_stream_wait(strm));
        if (r >= 0)
            v[r] = now_s() - t0;
    }
    qsort(v, (size_t)reps, sizeof(double), cmp_d);
    double med = v[reps / 2];
    free(v);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(a_m);
    dnnl_memory_destroy(c_m);
    dnnl_memory_destroy(b_m);
    dnnl_memory_destroy(wp_m);
    dnnl_memory_destroy(w_m);
    return med;
}

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 8, threads = argc > 2 ? atoi(argv[2]) : 2;
    int reps = argc > 3 ? atoi(argv[3]) : 31, width = argc > 4 ? atoi(argv[4]) : 192;
    if (batch < 1 || batch > 64 || threads < 1 || threads > 16 || reps < 1 || reps > 10000 ||
        width < 16 || width > 2048 || width % 16) {
        fprintf(stderr, "usage: lp-bench [batch 1..64] [threads 1..16] [reps] [width 16..2048, /16]\n");
        return 2;
    }
    if (gemm_isa_detect() < GEMM_ISA_AVX512 || lp_isa_missing(GEMM_ISA_AVX512, LP_BF16) ||
        lp_isa_missing(GEMM_ISA_AVX512, LP_INT8)) {
        fprintf(stderr, "lp-bench: needs AVX-512 with BF16 and VNNI\n");
        return 2;
    }
    static const char *PN[3] = {"f32", "bf16", "int8"};
    const char *only = getenv("LP_BENCH_PRECISION"); /* f32, bf16 or int8: that one alone */
    if (only && strcmp(only, PN[0]) && strcmp(only, PN[1]) && strcmp(only, PN[2])) {
        fprintf(stderr, "lp-bench: LP_BENCH_PRECISION must be f32, bf16 or int8, not '%s'\n", only);
        return 2;
    }
    int m = 198 * batch;
    layer L[NSHAPE];
    srand(1);
    for (int s = 0; s < NSHAPE; s++) {
        layer *l = &L[s];
        l->n = SHAPE[s][0] * width;
        l->k = SHAPE[s][1] * width;
        l->w = malloc((size_t)l->n * l->k * 4);
        l->bias = malloc((size_t)l->n * 4);
        for (size_t i = 0; i < (size_t)l->n * l->k; i++) l->w[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int i = 0; i < l->n; i++) l->bias[i] = rand() / (float)RAND_MAX;
        l->wp = aligned_alloc(64, gemm_packed_floats(l->n, l->k) * 4);
        gemm_pack_t(GEMM_ISA_AVX512, l->w, (size_t)l->k, l->n, l->k, 0, l->n, l->wp);
        l->wb = aligned_alloc(64, (lp_packed_elems(LP_BF16, l->n, l->k) * 2 + 63) / 64 * 64);
        gemm_bf16_pack_t(l->w, (size_t)l->k, l->n, l->k, l->wb);
        l->wq = aligned_alloc(64, (lp_packed_elems(LP_INT8, l->n, l->k) + 63) / 64 * 64);
        l->ws = malloc((size_t)l->n * 4);
        l->wc = malloc((size_t)l->n * 4);
        gemm_s8_pack_t(l->w, (size_t)l->k, l->n, l->k, l->wq, l->ws, l->wc);
    }
    team t = {0};
    t.m = m;
    t.threads = threads;
    t.reps = reps;
    t.L = L;
    t.ld = 4 * width;
    t.a = malloc((size_t)m * t.ld * 4);
    t.c = malloc((size_t)m * t.ld * 4);
    t.aq = malloc((size_t)m * t.ld * 2);
    t.as = malloc((size_t)m * 4);
    t.az = malloc((size_t)m * 4);
    t.times = malloc((size_t)reps * NSHAPE * sizeof(double));
    for (size_t i = 0; i < (size_t)m * t.ld; i++) t.a[i] = rand() / (float)RAND_MAX - 0.5f;

    omp_set_num_threads(threads);
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    CK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    printf("Linear products of a width-%d block, batch %d (m = %d rows), %d threads, median of %d; "
           "ms per image\n", width, batch, m, threads, reps);
    printf("%-5s %-5s %9s %9s %7s   %s\n", "prec", "layer", "ours", "onednn", "ratio", "oneDNN implementation");
    /* interleaved: each precision runs ours then oneDNN, twice, and keeps the better median */
    for (int prec = 0; prec < 3; prec++) {
        if (only && strcmp(only, PN[prec]) != 0)
            continue;
        double mo[NSHAPE], md[NSHAPE], best_o[NSHAPE], best_d[NSHAPE];
        char impl[NSHAPE][128];
        for (int s = 0; s < NSHAPE; s++)
            best_o[s] = best_d[s] = 1e30;
        for (int round = 0; round < 2; round++) {
            t.prec = prec;
            ours(&t, mo);
            for (int s = 0; s < NSHAPE; s++) {
                md[s] = onednn(eng, strm, prec, m, &L[s], reps, impl[s], sizeof impl[s]);
                best_o[s] = mo[s] < best_o[s] ? mo[s] : best_o[s];
                best_d[s] = md[s] < best_d[s] ? md[s] : best_d[s];
            }
        }
        double so = 0, sd = 0;
        for (int s = 0; s < NSHAPE; s++) {
            printf("%-5s %-5s %9.3f %9.3f %7.2f   %s\n", PN[prec], SNAME[s], best_o[s] * 1e3 / batch,
                   best_d[s] * 1e3 / batch, best_d[s] / best_o[s], impl[s]);
            so += best_o[s];
            sd += best_d[s];
        }
        printf("%-5s %-5s %9.3f %9.3f %7.2f   (x12 blocks: ours %.2f ms/image, oneDNN %.2f)\n", PN[prec],
               "sum", so * 1e3 / batch, sd * 1e3 / batch, sd / so, 12 * so * 1e3 / batch,
               12 * sd * 1e3 / batch);
    }
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return 0;
}
