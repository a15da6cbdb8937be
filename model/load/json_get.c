/* json_get.c — typed getters for config JSON: each field read with its type and range checked, and
 * every failure message naming the file and the field. */
#include <math.h>
#include <string.h>

#include "config_internal.h"

/* obj[key], or NULL when obj is not an object, the key is absent, or the value is JSON null
 * (timm and transformers both write null for "not set"). */
const json_t *jget(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

/* Integer field `where key` (where is "" or "model_args." etc.) within [lo, hi].
 * Returns 1 and sets *out when present, 0 when absent, a DEIT_E* status on a bad value. */
int opt_int(const jsrc *s, const json_t *obj, const char *where, const char *key, long long lo,
            long long hi, long long *out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_integer(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected an integer", s->file,
                         where, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: %lld is outside [%lld, %lld]",
                         s->file, where, key, x, lo, hi);
    *out = x;
    return 1;
}

/* Finite number (integer or real) field; same return convention as opt_int. */
int opt_num(const jsrc *s, const json_t *obj, const char *where, const char *key, double *out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected a number", s->file, where,
                         key);
    *out = json_number_value(v);
    return 1;
}

int opt_bool(const jsrc *s, const json_t *obj, const char *where, const char *key, int *out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_boolean(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected true or false", s->file,
                         where, key);
    *out = json_is_true(v);
    return 1;
}

int opt_str(const jsrc *s, const json_t *obj, const char *where, const char *key, const char **out)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_string(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected a string", s->file, where,
                         key);
    *out = json_string_value(v);
    return 1;
}

/* Optional sub-object; an absent one reads as NULL (every jget on it then finds nothing). */
int opt_obj(const jsrc *s, const json_t *obj, const char *where, const char *key, const json_t **out)
{
    *out = NULL;
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    if (!json_is_object(v))
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected an object", s->file, where,
                         key);
    *out = v;
    return 1;
}

/* Per-channel mean or std: an array of `chans` numbers, or a single number (bare or in a one-element
 * array) replicated, as timm does for a scalar. std values must be at least SCALE_MIN (they
 * divide, in float32: a tiny positive double such as 1e-300 narrows to 0.0f and would turn every
 * pixel into inf or NaN). */
int opt_channels(const jsrc *s, const json_t *obj, const char *where, const char *key, int chans,
                 int positive, float out[3])
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    double x[3];
    size_t n;
    if (json_is_number(v)) {
        n = 1;
        x[0] = json_number_value(v);
    } else if (json_is_array(v)) {
        n = json_array_size(v);
        if (n != 1 && n != (size_t)chans)
            return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                             "%s: %s%s: %zu values for a %d-channel model (expected 1 or %d)", s->file,
                             where, key, n, chans, chans);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_number(e))
                return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s[%zu]: expected a number",
                                 s->file, where, key, i);
            x[i] = json_number_value(e);
        }
    } else {
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected a number or an array",
                         s->file, where, key);
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || fabs(x[i]) > 1e6 || (positive && !(x[i] >= SCALE_MIN)))
            return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: %g is not a valid %s", s->file,
                             where, key, x[i], positive ? "positive scale" : "value");
    for (int c = 0; c < 3; c++) out[c] = (float)x[n == 1 ? 0 : (c < chans ? c : 0)];
    return 1;
}

/* An image size written as one integer (square) or [H, W]; [C, H, W] when with_chans (timm's
 * input_size), whose C must equal in_chans. Returns 1/0/status like opt_int. */
int opt_size(const jsrc *s, const json_t *obj, const char *where, const char *key, int with_chans,
             int in_chans, int *h, int *w)
{
    const json_t *v = jget(obj, key);
    if (!v) return 0;
    long long x[3];
    size_t n = 0;
    if (json_is_integer(v) && !with_chans) {
        x[0] = x[1] = json_integer_value(v);
        n = 2;
    } else if (json_is_array(v) && json_array_size(v) == (with_chans ? 3u : 2u)) {
        n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_integer(e))
                return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s[%zu]: expected an integer",
                                 s->file, where, key, i);
            x[i] = json_integer_value(e);
        }
    } else {
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: expected %s", s->file, where, key,
                         with_chans ? "[channels, height, width]" : "an integer or [height, width]");
    }
    if (with_chans && x[0] != in_chans)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL,
                         "%s: %s%s: %lld channels but the patch embedding takes %d", s->file, where, key,
                         x[0], in_chans);
    long long hh = x[n - 2], ww = x[n - 1];
    if (hh < 1 || hh > DEIT_MAX_IMAGE_SIDE || ww < 1 || ww > DEIT_MAX_IMAGE_SIDE)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s: %lldx%lld is outside 1..%d", s->file,
                         where, key, hh, ww, DEIT_MAX_IMAGE_SIDE);
    *h = (int)hh;
    *w = (int)ww;
    return 1;
}

/* Checks an optional integer config field against the value the tensors fixed. */
int agree_int(const jsrc *s, const json_t *obj, const char *where, const char *key, long long actual,
              const char *what)
{
    long long v;
    int rc = opt_int(s, obj, where, key, 0, 1LL << 40, &v);
    if (rc < 0) return rc;
    if (rc && v != actual)
        return deit_fail(s->err, s->errlen, DEIT_EINVAL, "%s: %s%s is %lld but the tensors give %s %lld",
                         s->file, where, key, v, what, actual);
    return DEIT_OK;
}
