/* deit.c — opening a model (directory or .safetensors file) and the engine's small public helpers. */
#include "deit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "hub.h"
#include "model_internal.h"
#include "preprocess.h"
#include "regular_file.h"
#include "safetensors.h"
#include "weights.h"

/* config.json files are small (a 1000-label config is ~40 KB); anything bigger is not a config. */
#define MAX_CONFIG_BYTES (16u << 20)

/* Reads a whole config file (bounded: anything bigger is not a config), its path in any message. */
static int read_small_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    char why[160];
    int rc = read_regular_file(path, MAX_CONFIG_BYTES, buf, len, why, sizeof why);
    return rc == DEIT_OK ? DEIT_OK : deit_fail(err, errlen, rc, "%s: %s", path, why);
}

/* Copies src into dst[n], truncating; always NUL-terminates. */
static void copy_str(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Fills dir (no trailing slash, "." if none) and the model name from `path`: a directory's basename,
 * or for a file its directory's basename when the file is the hub's "model.safetensors", else the
 * file name without ".safetensors". */
static void split_model_path(const char *path, int is_dir, char *dir, size_t dirlen, char *name,
                             size_t namelen)
{
    char tmp[PATH_MAX];
    copy_str(tmp, sizeof tmp, path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    if (is_dir) {
        copy_str(dir, dirlen, tmp);
    } else {
        char *slash = strrchr(tmp, '/');
        if (slash) {
            *slash = '\0';
            copy_str(dir, dirlen, slash == tmp ? "/" : tmp);
            *slash = '/';
        } else {
            copy_str(dir, dirlen, ".");
        }
    }
    const char *base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
    if (!is_dir && strcmp(base, "model.safetensors") == 0) {
        char real[PATH_MAX];
        const char *d = realpath(dir, real) ? real : dir;
        const char *dbase = strrchr(d, '/') ? strrchr(d, '/') + 1 : d;
        copy_str(name, namelen, *dbase ? dbase : "model");
        return;
    }
    if (is_dir && strcmp(base, ".") == 0) {
        char real[PATH_MAX];
        if (realpath(tmp, real))
            base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
        copy_str(name, namelen, *base ? base : "model");
        return;
    }
    copy_str(name, namelen, base);
    size_t bl = strlen(name), sl = strlen(".safetensors");
    if (!is_dir && bl > sl && strcmp(name + bl - sl, ".safetensors") == 0)
        name[bl - sl] = '\0';
}

deit_params deit_default_params(void)
{
    deit_params p = {.precision = DEIT_PRECISION_F32, .isa = NULL, .threads = 1, .max_batch = 1};
    return p;
}

static const char *const PRECISION_NAMES[] = {"f32", "bf16", "int8"};
#define N_PRECISIONS (int)(sizeof PRECISION_NAMES / sizeof PRECISION_NAMES[0])

const char *deit_precision_name(deit_precision p)
{
    return (int)p >= 0 && (int)p < N_PRECISIONS ? PRECISION_NAMES[p] : "unknown";
}

int deit_precision_parse(const char *s, deit_precision *out)
{
    for (int i = 0; s && i < N_PRECISIONS; i++)
        if (strcmp(s, PRECISION_NAMES[i]) == 0) {
            *out = (deit_precision)i;
            return 0;
        }
    return -1;
}

/* The kernel set a model runs: the CPU's best, narrowed by p->isa or, when that is NULL, by
 * $DEIT_ISA (whose unknown values are ignored, as before deit_params existed). An explicit isa
 * the CPU lacks is an error, not a quiet downgrade: a test that asks for a path must get it. */
static int resolve_isa(const deit_params *p, gemm_isa *out, char *err, size_t errlen)
{
    gemm_isa best = gemm_isa_detect(), want;
    if (!p->isa) {
        const char *env = getenv("DEIT_ISA");
        *out = env && gemm_isa_parse(env, &want) == 0 && gemm_isa_runs(want) ? want : best;
        return DEIT_OK;
    }
    if (gemm_isa_parse(p->isa, &want) != 0)
        return deit_fail(err, errlen, DEIT_EINVAL, "unknown isa '%.32s' (avx512, avx2, generic, blas)",
                         p->isa);
    if (!gemm_isa_runs(want))
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED, "isa %s: this CPU supports at most %s",
                         gemm_isa_name(want), gemm_isa_name(best));
    *out = want;
    return DEIT_OK;
}

/* Checks the parameters the model itself depends on (precision, isa). */
static int check_params(const deit_params *p, gemm_isa *isa, char *err, size_t errlen)
{
    if ((int)p->precision < 0 || (int)p->precision >= N_PRECISIONS)
        return deit_fail(err, errlen, DEIT_EINVAL, "unknown precision %d", (int)p->precision);
    int rc = resolve_isa(p, isa, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    /* bf16 / int8 only on their native instructions: refuse at start, naming what is missing */
    const char *missing = p->precision == DEIT_PRECISION_F32 ? NULL
                                                             : lp_isa_missing(*isa, (lp_kind)p->precision);
    if (missing)
        return deit_fail(err, errlen, DEIT_EUNSUPPORTED,
                         "precision %s needs %s, which this CPU (isa %s) lacks; use f32",
                         deit_precision_name(p->precision), missing, gemm_isa_name(*isa));
    return DEIT_OK;
}

/* The steps after the bytes are at hand, shared by files and built-in models: resolve the config
 * against the tensors, load and pack the weights. `label` names the weights in messages. */
static int build_model(const st_file *sf, const char *cjson, size_t clen, const char *pjson, size_t plen,
                       const char *name, const char *label, deit_precision precision, gemm_isa isa,
                       deit_model **out, char *err, size_t errlen)
{
    int rc;
    deit_model *m = calloc(1, sizeof *m);
    if (!m)
        return deit_fail(err, errlen, DEIT_ENOMEM, "out of memory");
    m->precision = precision;
    m->isa = isa;
    if ((rc = deit_config_resolve(cjson, clen, pjson, plen, sf, name, &m->cfg, err, errlen)) != DEIT_OK)
        goto done;
    if ((rc = deit_weights_load(sf, &m->cfg, &m->w, err, errlen)) != DEIT_OK)
        goto done;
    if ((rc = deit_model_pack(m)) != DEIT_OK) {
        deit_fail(err, errlen, rc, "%s: out of memory packing weights", label);
        goto done;
    }
    if ((rc = deit_model_lower(m, (int)precision, err, errlen)) != DEIT_OK)
        goto done;
    *out = m;
    m = NULL;
done:
    deit_model_free(m);
    return rc;
}

/* "builtin:NAME": a model compiled into the binary (hub.h), opened from its bytes. */
static int open_builtin(const char *spec, deit_precision precision, gemm_isa isa, deit_model **out, char *err,
                        size_t errlen)
{
    hub_builtin b;
    if (hub_builtin_find(spec + strlen(HUB_BUILTIN_PREFIX), &b) != 0)
        return deit_fail(err, errlen, DEIT_EIO, "%s: no such built-in model (there is %s)", spec, HUB_DEFAULT_MODEL);
    st_file *sf = NULL;
    int rc = st_parse(b.safetensors, b.safetensors_len, spec, &sf, err, errlen);
    if (rc == DEIT_OK)
        rc = build_model(sf, (const char *)b.config_json, b.config_len, NULL, 0, b.name, spec, precision, isa, out,
                         err, errlen);
    st_close(sf);
    return rc;
}

int deit_model_open(const char *path, deit_model **out, char *err, size_t errlen)
{
    return deit_model_open_with(path, NULL, out, err, errlen);
}

int deit_model_open_with(const char *path, const deit_params *params, deit_model **out, char *err,
                         size_t errlen)
{
    if (!out)
        return deit_fail(err, errlen, DEIT_EINVAL, "deit_model_open: no output pointer");
    *out = NULL;
    deit_params defaults = deit_default_params();
    const deit_params *p = params ? params : &defaults;
    gemm_isa isa = GEMM_ISA_GENERIC;
    int rc = check_params(p, &isa, err, errlen);
    if (rc != DEIT_OK)
        return rc;
    if (!path || !*path)
        return deit_fail(err, errlen, DEIT_EINVAL, "no model path given");
    if (strncmp(path, HUB_BUILTIN_PREFIX, strlen(HUB_BUILTIN_PREFIX)) == 0)
        return open_builtin(path, p->precision, isa, out, err, errlen);
    struct stat st;
    if (stat(path, &st) != 0)
        return deit_fail(err, errlen, DEIT_EIO, "%s: %s", path, strerror(errno));
    int is_dir = S_ISDIR(st.st_mode);

    char dir[PATH_MAX], name[256], wpath[PATH_MAX + 32], cpath[PATH_MAX + 32], ppath[PATH_MAX + 32];
    split_model_path(path, is_dir, dir, sizeof dir, name, sizeof name);
    if (is_dir)
        snprintf(wpath, sizeof wpath, "%s/model.safetensors", dir);
    else
        snprintf(wpath, sizeof wpath, "%s", path);
    snprintf(cpath, sizeof cpath, "%s/config.json", dir);
    snprintf(ppath, sizeof ppath, "%s/preprocessor_config.json", dir);

    char *cjson = NULL, *pjson = NULL;
    size_t clen = 0, plen = 0;
    if (file_exists(cpath) && (rc = read_small_file(cpath, &cjson, &clen, err, errlen)) != DEIT_OK)
        return rc;
    if (file_exists(ppath) && (rc = read_small_file(ppath, &pjson, &plen, err, errlen)) != DEIT_OK) {
        free(cjson);
        return rc;
    }

    st_file *sf = NULL;
    if ((rc = st_open(wpath, &sf, err, errlen)) == DEIT_OK)
        rc = build_model(sf, cjson, clen, pjson, plen, name, wpath, p->precision, isa, out, err, errlen);
    st_close(sf);
    free(cjson);
    free(pjson);
    return rc;
}

void deit_model_free(deit_model *m)
{
    if (!m)
        return;
    deit_model_unpack(m);
    deit_weights_free(&m->w);
    deit_config_free(&m->cfg);
    free(m);
}

const char *deit_model_isa(const deit_model *m)
{
    return gemm_isa_name(m->isa);
}

deit_precision deit_model_precision(const deit_model *m)
{
    return m->precision;
}

const char *deit_model_name(const deit_model *m) { return m->cfg.name; }
const char *deit_model_architecture(const deit_model *m) { return m->cfg.architecture; }
int deit_model_classes(const deit_model *m) { return m->cfg.n_classes; }
int deit_model_distilled(const deit_model *m) { return m->cfg.distilled; }
const char *deit_model_second_token(const deit_model *m)
{
    return !m->cfg.distilled ? NULL : m->cfg.second_class ? "class" : "distillation";
}
const char *const *deit_model_labels(const deit_model *m) { return (const char *const *)m->cfg.labels; }

const char *deit_model_dtype(const deit_model *m)
{
    switch (m->cfg.dtype) {
    case ST_F32: return "F32";
    case ST_F16: return "F16";
    case ST_BF16: return "BF16";
    default: return "other"; /* unreachable: naming_check_dtype refused it at open */
    }
}

deit_shape deit_model_shape(const deit_model *m)
{
    const deit_config *c = &m->cfg;
    return (deit_shape){c->image_h, c->image_w, c->in_chans, c->patch, c->dim, c->depth, c->heads};
}

deit_resize deit_model_resize(const deit_model *m)
{
    const deit_preproc *pp = &m->cfg.pre;
    if (!pp->do_resize) return (deit_resize){DEIT_RESIZE_NONE, 0, 0, 0};
    switch (pp->resize) {
    case RESIZE_EXACT: return (deit_resize){DEIT_RESIZE_EXACT, 0, pp->resize_w, pp->resize_h};
    case RESIZE_KEEP_RATIO: return (deit_resize){DEIT_RESIZE_KEEP_RATIO, 0, pp->resize_w, pp->resize_h};
    case RESIZE_SHORTEST_SIDE: break;
    }
    return (deit_resize){DEIT_RESIZE_SHORTEST_SIDE, pp->resize_short, 0, 0};
}

const deit_config *deit_model_config(const deit_model *m)
{
    return m ? &m->cfg : NULL;
}

size_t deit_input_floats(const deit_model *m)
{
    return (size_t)m->cfg.in_chans * m->cfg.image_h * m->cfg.image_w;
}

int deit_preprocess(const deit_model *m, const uint8_t *data, size_t len, size_t max_pixels,
                    float *out, char *err, size_t errlen)
{
    return preprocess_encoded(&m->cfg.pre, data, len, max_pixels, out, NULL, err, errlen);
}

int deit_preprocess_with(const deit_model *m, const uint8_t *data, size_t len, size_t max_pixels,
                         int exif_transpose, float *out, char *err, size_t errlen)
{
    deit_preproc pp = m->cfg.pre;
    pp.exif_transpose = exif_transpose != 0;
    return preprocess_encoded(&pp, data, len, max_pixels, out, NULL, err, errlen);
}

/* Max and sum of exp(x - max) of n logits, in double. */
static void softmax_stats(const float *x, int n, double *mx, double *sum)
{
    double m = x[0], s = 0.0;
    for (int i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    for (int i = 0; i < n; i++)
        s += exp((double)x[i] - m);
    *mx = m;
    *sum = s;
}

void deit_softmax(const float *logits, int n, float *probs)
{
    if (n <= 0)
        return;
    double mx, sum;
    softmax_stats(logits, n, &mx, &sum);
    for (int i = 0; i < n; i++)
        probs[i] = (float)(exp((double)logits[i] - mx) / sum);
}

void deit_fuse(const float *cls_logits, const float *dist_logits, int n, int distilled,
               float *p_cls, float *p_dist, float *p_fused)
{
    if (n <= 0)
        return;
    if (!distilled || !dist_logits)
        dist_logits = cls_logits;
    double mc, sc, md, sd;
    softmax_stats(cls_logits, n, &mc, &sc);
    softmax_stats(dist_logits, n, &md, &sd);
    for (int i = 0; i < n; i++) {
        double pc = exp((double)cls_logits[i] - mc) / sc;
        double pd = exp((double)dist_logits[i] - md) / sd;
        if (p_cls)
            p_cls[i] = (float)pc;
        if (p_dist)
            p_dist[i] = (float)pd;
        if (p_fused)
            p_fused[i] = (float)((pc + pd) * 0.5);
    }
}

int deit_topk(const float *scores, int n, int k, int *idx)
{
    if (k > n)
        k = n;
    if (k <= 0)
        return 0;
    /* Partial insertion sort: O(n*k), fine for k <= a few dozen over 1000 classes. */
    int len = 0;
    for (int i = 0; i < n; i++) {
        if (len == k && !(scores[i] > scores[idx[k - 1]]))
            continue;
        int j = len < k ? len++ : k - 1;
        while (j > 0 && scores[i] > scores[idx[j - 1]]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return len;
}

void deit_set_blas_threads(int n)
{
    if (n >= 1)
        openblas_set_num_threads(n);
}
