/* v2.c — KServe v2 infer request parsing (JSON + base64 BYTES, and the binary-data extension). */
#include "v2.h"

#include "status.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const v2_output_names[V2_OUT_COUNT] = {"class_probs",   "distill_probs",   "fused_probs",
                                                   "class_rollout", "distill_rollout", "token_cosine"};


/* A symbol's value in either alphabet: the standard one (+ /) or the URL-safe one (- _), as
 * protobuf's JSON mapping reads bytes (the two differ only in those symbols, so they cannot clash). */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

long long v2_base64_decode(const char *in, size_t len, uint8_t *out)
{
    size_t o = 0, symbols = 0, pad = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        /* line breaks of MIME-style base64 (`base64` without -w0, Python's encodebytes) */
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad) return -1; /* a stray character, or data after the padding */
        symbols++;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* padding optional, but when present: at most two '=', completing a group of 4 */
    if (symbols % 4 == 1 || pad > 2 || (pad && (symbols + pad) % 4)) return -1;
    return (long long)o;
}

void v2_request_free(v2_request *r)
{
    if (!r) return;
    free(r->id);
    free(r->input_name);
    free(r->images);
    free(r->arena);
    memset(r, 0, sizeof *r);
}

/* Appends the string leaves of a (possibly nested) JSON array to list[*n] (at most cap). Returns 0,
 * -1 for a leaf that is not a string, -2 for more than cap strings, -3 for nesting deeper than 8. */
static int collect_strings(json_t *a, json_t **list, size_t cap, size_t *n, int depth)
{
    if (depth > 8) return -3;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (json_is_array(v)) {
            int rc = collect_strings(v, list, cap, n, depth + 1);
            if (rc) return rc;
        } else if (json_is_string(v)) {
            if (*n >= cap) return -2;
            list[(*n)++] = v;
        } else {
            return -1;
        }
    }
    return 0;
}

void v2_all_outputs(v2_request *r)
{
    r->n_outputs = V2_OUT_PROBS;
    for (int k = 0; k < V2_OUT_PROBS; k++) r->outputs[k] = (v2_output){(v2_output_kind)k, 0, 0};
}

int v2_wants_explain(const v2_request *r)
{
    for (int k = 0; k < r->n_outputs; k++)
        if (r->outputs[k].kind >= V2_OUT_PROBS) return 1;
    return 0;
}

static int set_classification(v2_output *o, long long k, char *err, size_t errlen)
{
    if (o->kind >= V2_OUT_PROBS)
        return deit_fail(err, errlen, V2_EINVAL,
                         "\"classification\" applies to class_probs, distill_probs and fused_probs, not %s",
                         v2_output_names[o->kind]);
    if (k < 1 || k > V2_MAX_CLASSIFICATION)
        return deit_fail(err, errlen, V2_EINVAL, "\"classification\" must be a positive integer");
    o->classification = (int)k;
    return V2_OK;
}

int v2_add_output(v2_request *r, const char *name, int has_classification, long long classification, char *err,
                  size_t errlen)
{
    if (!name) return deit_fail(err, errlen, V2_EINVAL, "each output needs a string \"name\"");
    int kind = -1;
    for (int k = 0; k < V2_OUT_COUNT; k++)
        if (strcmp(name, v2_output_names[k]) == 0) kind = k;
    if (kind < 0)
        return deit_fail(err, errlen, V2_EINVAL,
                         "unknown output \"%.64s\" (expected class_probs, distill_probs, fused_probs, class_rollout, "
                         "distill_rollout or token_cosine)", name);
    for (int k = 0; k < r->n_outputs; k++)
        if ((int)r->outputs[k].kind == kind)
            return deit_fail(err, errlen, V2_EINVAL, "output \"%s\" requested twice", name);
    if (r->n_outputs >= V2_OUT_COUNT)
        return deit_fail(err, errlen, V2_EINVAL, "\"outputs\" must list 1 to %d outputs", V2_OUT_COUNT);
    r->outputs[r->n_outputs++] = (v2_output){(v2_output_kind)kind, 0, 0};
    return has_classification ? set_classification(&r->outputs[r->n_outputs - 1], classification, err, errlen)
                              : V2_OK;
}

int v2_set_timeout_us(v2_request *r, int is_integer, long long us, char *err, size_t errlen)
{
    if (!is_integer) return deit_fail(err, errlen, V2_EINVAL, "\"timeout\" must be an integer (microseconds)");
    if (us < 0) return deit_fail(err, errlen, V2_EINVAL, "\"timeout\" must be 0 (none) or more microseconds");
    r->timeout_s = us > 86400LL * 1000000 ? 0 : (double)us * 1e-6;
    return V2_OK;
}

/* A boolean parameter (the binary-data extension's): *out unchanged when absent. */
static int bool_param(const json_t *params, const char *key, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    if (!v) return V2_OK;
    if (!json_is_boolean(v)) return deit_fail(err, errlen, V2_EINVAL, "\"%s\" must be true or false", key);
    *out = json_is_true(v);
    return V2_OK;
}

/* outputs absent or [] mean the three probability outputs (as gRPC's none); each output's parameters.binary_data, else
 * the request's parameters.binary_data_output, says whether its data comes as raw bytes. */
static int parse_outputs(json_t *outs, int binary_default, v2_request *r, char *err, size_t errlen)
{
    if (outs && !json_is_array(outs)) return deit_fail(err, errlen, V2_EINVAL, "\"outputs\" must be an array");
    if (!outs || json_array_size(outs) == 0) {
        v2_all_outputs(r);
        for (int k = 0; k < r->n_outputs; k++) r->outputs[k].binary = binary_default;
        return V2_OK;
    }
    if (json_array_size(outs) > V2_OUT_COUNT)
        return deit_fail(err, errlen, V2_EINVAL, "\"outputs\" must list 1 to %d outputs", V2_OUT_COUNT);
    size_t i;
    json_t *o;
    json_array_foreach(outs, i, o) {
        int rc = v2_add_output(r, json_string_value(json_object_get(o, "name")), 0, 0, err, errlen);
        if (rc) return rc;
        json_t *params = json_object_get(o, "parameters");
        if (params && !json_is_object(params))
            return deit_fail(err, errlen, V2_EINVAL, "output \"parameters\" must be an object");
        r->outputs[r->n_outputs - 1].binary = binary_default;
        if ((rc = bool_param(params, "binary_data", &r->outputs[r->n_outputs - 1].binary, err, errlen)))
            return rc;
        json_t *c = json_object_get(params, "classification");
        if (c) {
            if (!json_is_integer(c))
                return deit_fail(err, errlen, V2_EINVAL, "\"classification\" must be a positive integer");
            if ((rc = set_classification(&r->outputs[r->n_outputs - 1], (long long)json_integer_value(c), err,
                                         errlen)))
                return rc;
        }
    }
    return V2_OK;
}

int v2_split_bytes(const uint8_t *bin, size_t len, v2_request *r, char *err, size_t errlen)
{
    size_t off = 0, n = 0, expect = r->n_images;
    while (off < len) {
        if (len - off < 4)
            return deit_fail(err, errlen, V2_EINVAL, "binary BYTES element truncated in its length prefix");
        uint32_t el = (uint32_t)bin[off] | (uint32_t)bin[off + 1] << 8 | (uint32_t)bin[off + 2] << 16 |
                      (uint32_t)bin[off + 3] << 24;
        off += 4;
        if (el > len - off)
            return deit_fail(err, errlen, V2_EINVAL, "binary BYTES element of %u bytes overruns the data", el);
        if (n >= expect)
            return deit_fail(err, errlen, V2_EINVAL, "binary data holds more elements than the shape (%zu)", expect);
        r->images[n++] = (v2_blob){bin + off, el};
        off += el;
    }
    if (n != expect)
        return deit_fail(err, errlen, V2_EINVAL, "binary data holds %zu elements, shape says %zu", n, expect);
    return V2_OK;
}

int v2_set_input(v2_request *r, size_t n_inputs, const char *name, const char *datatype, char *err, size_t errlen)
{
    if (n_inputs != 1)
        return deit_fail(err, errlen, V2_EINVAL,
                         "\"inputs\" must be an array with exactly one BYTES tensor of encoded images");
    if (!name) return deit_fail(err, errlen, V2_EINVAL, "input needs a string \"name\"");
    free(r->input_name);
    if (!(r->input_name = strdup(name))) return V2_ENOMEM;
    if (!datatype || strcmp(datatype, "BYTES") != 0)
        return deit_fail(err, errlen, V2_EINVAL, "input \"%.64s\" must have datatype BYTES (encoded images)", name);
    return V2_OK;
}

int v2_set_shape(v2_request *r, const long long *dims, size_t n_dims, size_t max_images, char *err, size_t errlen)
{
    if (n_dims < 1 || n_dims > V2_MAX_DIMS)
        return deit_fail(err, errlen, V2_EINVAL, "input \"shape\" must be an array of 1 to %d dimensions",
                         V2_MAX_DIMS);
    size_t count = 1;
    for (size_t i = 0; i < n_dims; i++)
        if (dims[i] < 0) return deit_fail(err, errlen, V2_EINVAL, "input \"shape\" must hold non-negative integers");
    /* one encoded image per element, one answer row per image: the outputs are [N, classes], which
     * only [N] or [N, 1] inputs match (Triton's clients send [N, 1]) */
    if (n_dims > 2 || (n_dims == 2 && dims[1] != 1))
        return deit_fail(err, errlen, V2_EINVAL, "input \"shape\" must be [N] or [N, 1] (N encoded images)");
    for (size_t i = 0; i < n_dims; i++) {
        long long v = dims[i];
        if ((unsigned long long)v > max_images || (v && count > max_images / (size_t)v))
            return deit_fail(err, errlen, V2_ETOOMANY, "too many images in one request (limit %zu)", max_images);
        count *= (size_t)v;
    }
    if (count == 0) return deit_fail(err, errlen, V2_EINVAL, "input holds no images");
    free(r->images);
    if (!(r->images = calloc(count, sizeof *r->images))) return V2_ENOMEM;
    r->n_images = count;
    return V2_OK;
}

static int parse_json(json_t *root, const uint8_t *bin, size_t bin_len, int has_bin, size_t max_images,
                      v2_request *r, char *err, size_t errlen)
{
    if (!json_is_object(root)) return deit_fail(err, errlen, V2_EINVAL, "request must be a JSON object");
    json_t *id = json_object_get(root, "id");
    if (id) {
        if (!json_is_string(id)) return deit_fail(err, errlen, V2_EINVAL, "\"id\" must be a string");
        if (!(r->id = strdup(json_string_value(id)))) return V2_ENOMEM;
    }
    json_t *inputs = json_object_get(root, "inputs");
    json_t *in = json_array_get(inputs, 0);
    int rc = v2_set_input(r, json_is_array(inputs) ? json_array_size(inputs) : 0,
                          json_string_value(json_object_get(in, "name")),
                          json_string_value(json_object_get(in, "datatype")), err, errlen);
    if (rc) return rc;
    json_t *shape = json_object_get(in, "shape");
    if (!json_is_array(shape) || json_array_size(shape) < 1 || json_array_size(shape) > V2_MAX_DIMS)
        return deit_fail(err, errlen, V2_EINVAL, "input \"shape\" must be an array of 1 to %d dimensions",
                         V2_MAX_DIMS);
    long long dims[V2_MAX_DIMS];
    size_t i;
    json_t *d;
    json_array_foreach(shape, i, d) {
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return deit_fail(err, errlen, V2_EINVAL, "input \"shape\" must hold non-negative integers");
        dims[i] = (long long)json_integer_value(d);
    }
    if ((rc = v2_set_shape(r, dims, json_array_size(shape), max_images, err, errlen))) return rc;
    size_t count = r->n_images;

    json_t *params = json_object_get(in, "parameters");
    if (params && !json_is_object(params))
        return deit_fail(err, errlen, V2_EINVAL, "input \"parameters\" must be an object");
    json_t *bds = json_object_get(params, "binary_data_size");
    json_t *ctype = json_object_get(params, "content_type");
    if (ctype && (!json_is_string(ctype) || strcmp(json_string_value(ctype), "base64") != 0))
        return deit_fail(err, errlen, V2_EINVAL, "input content_type must be \"base64\" (BYTES in JSON are base64-encoded images)");
    json_t *data = json_object_get(in, "data");

    if (bds) {
        if (!has_bin)
            return deit_fail(err, errlen, V2_EINVAL, "binary_data_size given without Inference-Header-Content-Length");
        if (data) return deit_fail(err, errlen, V2_EINVAL, "input has both \"data\" and binary_data_size");
        if (!json_is_integer(bds) || json_integer_value(bds) < 0 || (size_t)json_integer_value(bds) != bin_len)
            return deit_fail(err, errlen, V2_EINVAL, "binary_data_size does not match the %zu bytes after the JSON header",
                        bin_len);
        if ((rc = v2_split_bytes(bin, bin_len, r, err, errlen))) return rc;
    } else {
        if (has_bin && bin_len)
            return deit_fail(err, errlen, V2_EINVAL, "binary data after the JSON header but no input has binary_data_size");
        if (!json_is_array(data)) return deit_fail(err, errlen, V2_EINVAL, "input needs a \"data\" array of base64 strings");
        json_t **strs = calloc(count, sizeof *strs);
        if (!strs) return V2_ENOMEM;
        size_t n = 0;
        rc = collect_strings(data, strs, count, &n, 0);
        if (rc == -1 || (rc == 0 && n != count)) {
            free(strs);
            return deit_fail(err, errlen, V2_EINVAL, "\"data\" must hold exactly %zu base64 strings (the shape)", count);
        }
        if (rc == -2) {
            free(strs);
            return deit_fail(err, errlen, V2_EINVAL, "\"data\" holds more strings than the shape (%zu)", count);
        }
        if (rc == -3) {
            free(strs);
            return deit_fail(err, errlen, V2_EINVAL, "\"data\" is nested more than 8 arrays deep");
        }
        size_t total = 0;
        for (i = 0; i < n; i++) total += json_string_length(strs[i]) / 4 * 3 + 3;
        if (!(r->arena = malloc(total ? total : 1))) { free(strs); return V2_ENOMEM; }
        size_t off = 0;
        for (i = 0; i < n; i++) {
            long long got = v2_base64_decode(json_string_value(strs[i]), json_string_length(strs[i]),
                                             r->arena + off);
            if (got < 0) {
                free(strs);
                return deit_fail(err, errlen, V2_EINVAL, "image %zu is not valid base64", i);
            }
            r->images[i] = (v2_blob){r->arena + off, (size_t)got};
            off += (size_t)got;
        }
        free(strs);
    }
    json_t *req_params = json_object_get(root, "parameters");
    if (req_params && !json_is_object(req_params))
        return deit_fail(err, errlen, V2_EINVAL, "request \"parameters\" must be an object");
    int binary_default = 0;
    rc = bool_param(req_params, "binary_data_output", &binary_default, err, errlen);
    json_t *timeout = json_object_get(req_params, "timeout");
    if (!rc && timeout)
        rc = v2_set_timeout_us(r, json_is_integer(timeout), (long long)json_integer_value(timeout), err, errlen);
    return rc ? rc : parse_outputs(json_object_get(root, "outputs"), binary_default, r, err, errlen);
}

/* Most JSON values a request may hold. A v2 request needs a few per image (its base64 string) and
 * a few dozen for the rest; jansson spends ~100 bytes on each value, so a body of 32 MiB of "{}," once
 * took 4 GB to parse before any check could look at it. */
#define V2_MAX_JSON_VALUES 65536

/* An upper bound on the values in JSON text: each value but the first follows a ',' or ':' or opens
 * inside a '[' or '{', none of them counted inside strings. Stops counting past `limit`. */
static size_t json_values_bound(const uint8_t *p, size_t n, size_t limit)
{
    size_t count = 1;
    int in_string = 0;
    for (size_t i = 0; i < n && count <= limit; i++) {
        uint8_t c = p[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == ',' || c == ':' || c == '[' || c == '{') {
            count++;
        }
    }
    return count;
}

int v2_parse_request(const uint8_t *body, size_t len, long long header_len, size_t max_images,
                     v2_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t jlen = len;
    int has_bin = header_len >= 0;
    if (has_bin) {
        if ((unsigned long long)header_len > len)
            return deit_fail(err, errlen, V2_EINVAL,
                        "Inference-Header-Content-Length (%lld) is larger than the body (%zu bytes)", header_len, len);
        jlen = (size_t)header_len;
    }
    if (json_values_bound(body, jlen, V2_MAX_JSON_VALUES) > V2_MAX_JSON_VALUES)
        return deit_fail(err, errlen, V2_ETOOMANY, "the request JSON holds more than %d values (a v2 request "
                         "needs a few per image)", V2_MAX_JSON_VALUES);
    json_error_t je;
    json_t *root = json_loadb((const char *)body, jlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) return deit_fail(err, errlen, V2_EINVAL, "invalid JSON: %s (at byte %d)", je.text, je.position);
    int rc = parse_json(root, body + jlen, len - jlen, has_bin, max_images, out, err, errlen);
    json_decref(root);
    if (rc == V2_ENOMEM) deit_fail(err, errlen, V2_ENOMEM, "out of memory");
    if (rc) v2_request_free(out);
    return rc;
}
