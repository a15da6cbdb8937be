/* grpc_codec.c — KServe v2 gRPC protobuf messages <-> v2_request and response bytes (protobuf-c). */
#include "grpc_codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deit.h"
#include "grpc_predict_v2.pb-c.h"
#include "health.pb-c.h"
#include "response.h"
#include "status.h"
#include "text.h"
#include "v2_outputs.h"

/* raw_output_contents carries FP32 little-endian; the floats are copied as they lie in memory. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "grpc_codec.c writes FP32 tensors in host byte order, which must be little-endian"
#endif

typedef Inference__ModelInferRequest InferReq;
typedef Inference__ModelInferRequest__InferInputTensor InferInput;
typedef Inference__ModelInferRequest__InferRequestedOutputTensor InferOutputReq;

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

void gcodec_infer_request_free(gcodec_infer_request *r)
{
    if (!r) return;
    free(r->model_name);
    free(r->model_version);
    v2_request_free(&r->req);
    if (r->msg) inference__model_infer_request__free_unpacked(r->msg, NULL);
    memset(r, 0, sizeof *r);
}

/* The input's elements: raw_input_contents[0] (Triton's clients) or contents.bytes_contents. */
static int decode_images(const InferReq *m, const InferInput *in, v2_request *r, char *err, size_t errlen)
{
    size_t n_inline = in->contents ? in->contents->n_bytes_contents : 0;
    if (m->n_raw_input_contents) {
        if (n_inline)
            return deit_fail(err, errlen, V2_EINVAL, "input \"%.64s\" has both contents and raw_input_contents",
                             r->input_name);
        if (m->n_raw_input_contents != 1)
            return deit_fail(err, errlen, V2_EINVAL, "raw_input_contents must hold one entry per input (1), not %zu",
                             m->n_raw_input_contents);
        return v2_split_bytes(m->raw_input_contents[0].data, m->raw_input_contents[0].len, r, err, errlen);
    }
    if (!n_inline)
        return deit_fail(err, errlen, V2_EINVAL,
                         "input \"%.64s\" holds no data: send the images in raw_input_contents or "
                         "contents.bytes_contents", r->input_name);
    if (n_inline != r->n_images)
        return deit_fail(err, errlen, V2_EINVAL, "contents.bytes_contents holds %zu elements, shape says %zu",
                         n_inline, r->n_images);
    for (size_t i = 0; i < n_inline; i++)
        r->images[i] = (v2_blob){in->contents->bytes_contents[i].data, in->contents->bytes_contents[i].len};
    return V2_OK;
}

/* Requested outputs with their "classification" parameter (an int64; any other type is an error). */
static int decode_outputs(const InferReq *m, v2_request *r, char *err, size_t errlen)
{
    if (m->n_outputs == 0) {
        v2_all_outputs(r);
        return V2_OK;
    }
    if (m->n_outputs > V2_OUT_COUNT)
        return deit_fail(err, errlen, V2_EINVAL, "\"outputs\" must list 1 to %d outputs", V2_OUT_COUNT);
    for (size_t i = 0; i < m->n_outputs; i++) {
        const InferOutputReq *o = m->outputs[i];
        int has = 0;
        long long k = 0;
        for (size_t p = 0; p < o->n_parameters; p++) {
            const Inference__ModelInferRequest__InferRequestedOutputTensor__ParametersEntry *e = o->parameters[p];
            if (!e->key || strcmp(e->key, "classification") != 0) continue; /* e.g. binary_data: not ours */
            has = 1;
            /* a wrong type becomes k = 0, which v2_add_output refuses with REST's message */
            k = e->value && e->value->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM
                    ? (long long)e->value->int64_param : 0;
        }
        int rc = v2_add_output(r, o->name, has, k, err, errlen);
        if (rc) return rc;
    }
    return V2_OK;
}

/* The request's "timeout" parameter (Triton's clients send it as int64 microseconds), as REST's. */
static int decode_timeout(const InferReq *m, v2_request *r, char *err, size_t errlen)
{
    for (size_t p = 0; p < m->n_parameters; p++) {
        const Inference__ModelInferRequest__ParametersEntry *e = m->parameters[p];
        if (!e->key || strcmp(e->key, "timeout") != 0) continue;
        int is_integer =
            e->value && e->value->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
        int rc = v2_set_timeout_us(r, is_integer, is_integer ? (long long)e->value->int64_param : 0, err, errlen);
        if (rc) return rc;
    }
    return V2_OK;
}

/* protobuf-c's allocator for one unpack, with a byte budget: past it, allocations fail (and so does the
 * unpack). Counts what was asked for, never what is freed: protobuf-c frees only on failure and in
 * free_unpacked. Memory comes from malloc, so free_unpacked(m, NULL) frees it. */
typedef struct {
    size_t used, budget;
    int over, oom;
} mem_budget;

static void *budget_alloc(void *data, size_t size)
{
    mem_budget *b = data;
    if (size > b->budget - b->used) {
        b->over = 1;
        return NULL;
    }
    void *p = malloc(size);
    if (p) b->used += size;
    else b->oom = 1;
    return p;
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

int gcodec_decode_infer(const uint8_t *buf, size_t len, size_t max_images, gcodec_infer_request *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    mem_budget mb = {0, SIZE_MAX, 0, 0};
    if (len < (SIZE_MAX - GCODEC_INFER_MEM_SLACK) / GCODEC_INFER_MEM_PER_BYTE)
        mb.budget = len * GCODEC_INFER_MEM_PER_BYTE + GCODEC_INFER_MEM_SLACK;
    ProtobufCAllocator alloc = {budget_alloc, budget_free, &mb};
    InferReq *m = inference__model_infer_request__unpack(&alloc, len, buf);
    if (!m && mb.over)
        return deit_fail(err, errlen, V2_ETOOMANY,
                         "ModelInferRequest of %zu bytes needs more than %zu bytes of memory to unpack (%d per "
                         "message byte + %d KiB): too many fields", len, mb.budget, GCODEC_INFER_MEM_PER_BYTE,
                         GCODEC_INFER_MEM_SLACK / 1024);
    if (!m && mb.oom) return deit_fail(err, errlen, V2_ENOMEM, "out of memory");
    if (!m)
        return deit_fail(err, errlen, V2_EINVAL, "request is not a valid ModelInferRequest message (%zu bytes)", len);
    out->msg = m;
    int rc = V2_ENOMEM;
    if (!(out->model_name = dup_or_empty(m->model_name)) || !(out->model_version = dup_or_empty(m->model_version)))
        goto fail;
    /* the id is echoed in the answer's proto3 string, which must be UTF-8: Python's protobuf (tritonclient,
     * KServe's client) refuses the whole response otherwise; REST refuses such an id too (jansson) */
    if (m->id && !api_utf8_valid(m->id, strlen(m->id))) {
        rc = deit_fail(err, errlen, V2_EINVAL, "request \"id\" is not valid UTF-8");
        goto fail;
    }
    if (m->id && *m->id && !(out->req.id = strdup(m->id))) goto fail;
    const InferInput *in = m->n_inputs ? m->inputs[0] : NULL;
    rc = v2_set_input(&out->req, m->n_inputs, in ? in->name : NULL, in ? in->datatype : NULL, err, errlen);
    if (rc) goto fail;
    if (in->n_shape < 1 || in->n_shape > V2_MAX_DIMS) {
        rc = deit_fail(err, errlen, V2_EINVAL, "input \"shape\" must be an array of 1 to %d dimensions", V2_MAX_DIMS);
        goto fail;
    }
    long long dims[V2_MAX_DIMS];
    for (size_t i = 0; i < in->n_shape; i++) dims[i] = (long long)in->shape[i];
    if ((rc = v2_set_shape(&out->req, dims, in->n_shape, max_images, err, errlen))) goto fail;
    if ((rc = decode_images(m, in, &out->req, err, errlen))) goto fail;
    if ((rc = decode_outputs(m, &out->req, err, errlen))) goto fail;
    if ((rc = decode_timeout(m, &out->req, err, errlen))) goto fail;
    return V2_OK;
fail:
    if (rc == V2_ENOMEM) deit_fail(err, errlen, V2_ENOMEM, "out of memory");
    gcodec_infer_request_free(out);
    return rc;
}

int gcodec_decode_model_ref(const uint8_t *buf, size_t len, char **name, char **version)
{
    *name = *version = NULL;
    if (len > GCODEC_SMALL_MAX) return GCODEC_ETOOBIG;
    Inference__ModelReadyRequest *m = inference__model_ready_request__unpack(NULL, len, buf);
    if (!m) return -1;
    *name = dup_or_empty(m->name);
    *version = dup_or_empty(m->version);
    inference__model_ready_request__free_unpacked(m, NULL);
    if (*name && *version) return 0;
    free(*name);
    free(*version);
    *name = *version = NULL;
    return -1;
}

int gcodec_decode_empty(const uint8_t *buf, size_t len)
{
    if (len > GCODEC_SMALL_MAX) return GCODEC_ETOOBIG;
    ProtobufCMessage *m = protobuf_c_message_unpack(&inference__server_live_request__descriptor, NULL, len, buf);
    if (!m) return -1;
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int gcodec_decode_health(const uint8_t *buf, size_t len, char **service)
{
    *service = NULL;
    if (len > GCODEC_SMALL_MAX) return GCODEC_ETOOBIG;
    Grpc__Health__V1__HealthCheckRequest *m = grpc__health__v1__health_check_request__unpack(NULL, len, buf);
    if (!m) return -1;
    *service = dup_or_empty(m->service);
    grpc__health__v1__health_check_request__free_unpacked(m, NULL);
    return *service ? 0 : -1;
}

/* Packs any message into a fresh buffer (one spare byte so an empty message still allocates). */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *b = malloc(n + 1);
    if (!b) return NULL;
    *len = protobuf_c_message_pack(msg, b);
    return b;
}

uint8_t *gcodec_encode_flag(gcodec_flag kind, int value, size_t *len)
{
    switch (kind) {
    case GCODEC_FLAG_LIVE: {
        Inference__ServerLiveResponse r = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
        r.live = value != 0;
        return pack(&r.base, len);
    }
    case GCODEC_FLAG_READY: {
        Inference__ServerReadyResponse r = INFERENCE__SERVER_READY_RESPONSE__INIT;
        r.ready = value != 0;
        return pack(&r.base, len);
    }
    default: {
        Inference__ModelReadyResponse r = INFERENCE__MODEL_READY_RESPONSE__INIT;
        r.ready = value != 0;
        return pack(&r.base, len);
    }
    }
}

uint8_t *gcodec_encode_server_metadata(const char *version, size_t *len)
{
    Inference__ServerMetadataResponse r = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    r.name = (char *)RESP_V2_SERVER_NAME;
    r.version = (char *)version;
    r.n_extensions = RESP_V2_N_EXTENSIONS;
    r.extensions = (char **)resp_v2_extensions;
    return pack(&r.base, len);
}

uint8_t *gcodec_encode_model_metadata(const api_model *m, size_t *len)
{
    typedef Inference__ModelMetadataResponse__TensorMetadata Tensor;
    Inference__ModelMetadataResponse r = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    int64_t in_shape[1] = {-1};
    Tensor input = INFERENCE__MODEL_METADATA_RESPONSE__TENSOR_METADATA__INIT;
    input.name = (char *)RESP_V2_INPUT_NAME;
    input.datatype = (char *)"BYTES";
    input.n_shape = 1;
    input.shape = in_shape;
    v2_output_kind kinds[V2_OUT_COUNT];
    int n = api_v2_offered(m, kinds);
    Tensor outputs[V2_OUT_COUNT];
    Tensor *in_list[1] = {&input}, *out_list[V2_OUT_COUNT];
    int64_t shapes[V2_OUT_COUNT][V2_OUT_MAX_DIMS];
    for (int k = 0; k < n; k++) {
        v2_output o = {kinds[k], 0, 0};
        long long dims[V2_OUT_MAX_DIMS];
        int nd = api_v2_shape(m, &o, -1, dims);
        for (int d = 0; d < nd; d++) shapes[k][d] = dims[d];
        outputs[k] = (Tensor)INFERENCE__MODEL_METADATA_RESPONSE__TENSOR_METADATA__INIT;
        outputs[k].name = (char *)v2_output_names[o.kind];
        outputs[k].datatype = (char *)api_v2_datatype(&o);
        outputs[k].n_shape = (size_t)nd;
        outputs[k].shape = shapes[k];
        out_list[k] = &outputs[k];
    }
    char *versions[] = {(char *)api_model_version(m)};
    r.name = (char *)m->name;
    r.n_versions = 1;
    r.versions = versions;
    r.platform = (char *)RESP_V2_PLATFORM;
    r.n_inputs = 1;
    r.inputs = in_list;
    r.n_outputs = (size_t)n;
    r.outputs = out_list;
    return pack(&r.base, len);
}

uint8_t *gcodec_encode_infer(const api_model *m, const char *id, const v2_output *outs, int n_outs,
                             const float *cls_logits, const float *dist_logits, const float *explain, int n_images,
                             size_t *len)
{
    typedef Inference__ModelInferResponse__InferOutputTensor Tensor;
    Tensor tensors[V2_OUT_COUNT];
    Tensor *list[V2_OUT_COUNT];
    int64_t shapes[V2_OUT_COUNT][V2_OUT_MAX_DIMS];
    ProtobufCBinaryData raw[V2_OUT_COUNT];
    void *owned[V2_OUT_COUNT] = {NULL};
    uint8_t *result = NULL;
    size_t K = (size_t)m->n_classes;
    if (n_outs < 0 || n_outs > V2_OUT_COUNT) return NULL;
    const float *probs[V2_OUT_COUNT] = {NULL};
    float *fused = resp_fuse_all(m, cls_logits, dist_logits, n_images, probs);
    if (!fused) return NULL;
    for (int i = 0; i < n_outs; i++) {
        const v2_output *o = &outs[i];
        long long dims[V2_OUT_MAX_DIMS];
        int nd = api_v2_shape(m, o, n_images, dims);
        for (int d = 0; d < nd; d++) shapes[i][d] = dims[d];
        tensors[i] = (Tensor)INFERENCE__MODEL_INFER_RESPONSE__INFER_OUTPUT_TENSOR__INIT;
        tensors[i].name = (char *)v2_output_names[o->kind];
        tensors[i].datatype = (char *)api_v2_datatype(o);
        tensors[i].n_shape = (size_t)nd;
        tensors[i].shape = shapes[i];
        if (o->kind >= V2_OUT_PROBS) {
            float *v = explain ? api_v2_explain_gather(m, o->kind, explain, n_images) : NULL;
            if (!(owned[i] = v)) goto done;
            raw[i].data = (uint8_t *)v;
            raw[i].len = (size_t)n_images * api_v2_explain_width(m, o->kind) * sizeof(float);
        } else if (o->classification > 0) {
            uint8_t *b = resp_v2_classification_bytes(m, probs[o->kind], n_images, (int)dims[1], &raw[i].len);
            if (!(owned[i] = b)) goto done;
            raw[i].data = b;
        } else {
            raw[i].data = (uint8_t *)probs[o->kind]; /* packed by copy below; never written through */
            raw[i].len = (size_t)n_images * K * sizeof(float);
        }
        list[i] = &tensors[i];
    }
    Inference__ModelInferResponse r = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    r.model_name = (char *)m->name;
    r.model_version = (char *)api_model_version(m);
    r.id = (char *)(id ? id : "");
    r.n_outputs = (size_t)n_outs;
    r.outputs = list;
    r.n_raw_output_contents = (size_t)n_outs;
    r.raw_output_contents = raw;
    result = pack(&r.base, len);
done:
    for (int i = 0; i < V2_OUT_COUNT; i++) free(owned[i]);
    free(fused);
    return result;
}

uint8_t *gcodec_encode_health(int serving, size_t *len)
{
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = serving ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
                       : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    return pack(&r.base, len);
}
