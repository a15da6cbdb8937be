/* test_grpc_codec.c — the gRPC message codec (server/grpc_codec.c): ModelInferRequest decoding with
 * REST's checks and messages, hostile bytes (truncated, garbage, wrong wire types, counts and length
 * prefixes past the data), and every response encoder read back with protobuf-c. */
#include <math.h>
#include <stdint.h>

#include "../check.h"
#include "grpc_codec.h"
#include "grpc_predict_v2.pb-c.h"
#include "health.pb-c.h"
#include "response.h"
#include "v2.h"

typedef Inference__ModelInferRequest Req;
typedef Inference__ModelInferRequest__InferInputTensor Input;
typedef Inference__ModelInferRequest__InferRequestedOutputTensor OutReq;
typedef Inference__ModelInferRequest__InferRequestedOutputTensor__ParametersEntry Param;

/* A BYTES element list: "ab", "", "xyz" */
static const uint8_t ELEMS[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 3, 0, 0, 0, 'x', 'y', 'z'};

static uint8_t *pack_req(const Req *r, size_t *len)
{
    *len = inference__model_infer_request__get_packed_size(r);
    uint8_t *b = malloc(*len + 1);
    inference__model_infer_request__pack(r, b);
    return b;
}

/* Decodes a request built by the caller; returns the status, err has the message. */
static int decode(const Req *r, size_t max_images, gcodec_infer_request *out, char *err)
{
    size_t len;
    uint8_t *b = pack_req(r, &len);
    int rc = gcodec_decode_infer(b, len, max_images, out, err, 256);
    free(b);
    return rc;
}

/* A valid request: model m, id, one BYTES input of shape dims, elements in raw_input_contents. */
typedef struct {
    Req req;
    Input in, *inputs[1];
    int64_t shape[4];
    ProtobufCBinaryData raw;
} fixture;

static void fixture_init(fixture *f, int64_t n)
{
    f->req = (Req)INFERENCE__MODEL_INFER_REQUEST__INIT;
    f->in = (Input)INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    f->in.name = (char *)"images";
    f->in.datatype = (char *)"BYTES";
    f->shape[0] = n;
    f->shape[1] = 1;
    f->in.n_shape = 1;
    f->in.shape = f->shape;
    f->inputs[0] = &f->in;
    f->req.model_name = (char *)"m";
    f->req.id = (char *)"req-7";
    f->req.n_inputs = 1;
    f->req.inputs = f->inputs;
    f->raw = (ProtobufCBinaryData){sizeof ELEMS, (uint8_t *)ELEMS};
    f->req.n_raw_input_contents = 1;
    f->req.raw_input_contents = &f->raw;
}

static void test_valid(void)
{
    fixture f;
    fixture_init(&f, 3);
    gcodec_infer_request r;
    char err[256] = "";
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_OK);
    CHECK_STR_EQ(r.model_name, "m");
    CHECK_STR_EQ(r.model_version, "");
    CHECK_STR_EQ(r.req.id, "req-7");
    CHECK_STR_EQ(r.req.input_name, "images");
    CHECK_INT_EQ(r.req.n_images, 3);
    CHECK(r.req.images[0].len == 2 && memcmp(r.req.images[0].data, "ab", 2) == 0);
    CHECK_INT_EQ(r.req.images[1].len, 0);
    CHECK(r.req.images[2].len == 3 && memcmp(r.req.images[2].data, "xyz", 3) == 0);
    CHECK_INT_EQ(r.req.n_outputs, 3); /* none named: all three */
    gcodec_infer_request_free(&r);

    /* shape [N, 1], elements inline in contents.bytes_contents, two outputs, one classified */
    f.in.n_shape = 2;
    f.req.n_raw_input_contents = 0;
    Inference__InferTensorContents contents = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    ProtobufCBinaryData els[3] = {{2, (uint8_t *)"ab"}, {0, NULL}, {3, (uint8_t *)"xyz"}};
    contents.n_bytes_contents = 3;
    contents.bytes_contents = els;
    f.in.contents = &contents;
    OutReq o1 = INFERENCE__MODEL_INFER_REQUEST__INFER_REQUESTED_OUTPUT_TENSOR__INIT,
           o2 = INFERENCE__MODEL_INFER_REQUEST__INFER_REQUESTED_OUTPUT_TENSOR__INIT, *outs[2] = {&o1, &o2};
    o1.name = (char *)"fused_probs";
    Inference__InferParameter k = INFERENCE__INFER_PARAMETER__INIT;
    k.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    k.int64_param = 3;
    Param pe = INFERENCE__MODEL_INFER_REQUEST__INFER_REQUESTED_OUTPUT_TENSOR__PARAMETERS_ENTRY__INIT, *pes[1] = {&pe};
    pe.key = (char *)"classification";
    pe.value = &k;
    o1.n_parameters = 1;
    o1.parameters = pes;
    o2.name = (char *)"class_probs";
    f.req.n_outputs = 2;
    f.req.outputs = outs;
    f.req.model_version = (char *)"1";
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_OK);
    CHECK_INT_EQ(r.req.n_images, 3);
    CHECK(r.req.images[2].len == 3 && memcmp(r.req.images[2].data, "xyz", 3) == 0);
    CHECK_INT_EQ(r.req.n_outputs, 2);
    CHECK(r.req.outputs[0].kind == V2_OUT_FUSED && r.req.outputs[0].classification == 3);
    CHECK(r.req.outputs[1].kind == V2_OUT_CLASS && r.req.outputs[1].classification == 0);
    CHECK_STR_EQ(r.model_version, "1");
    gcodec_infer_request_free(&r);

    /* Triton's "timeout" request parameter (int64 microseconds), as REST reads it */
    Inference__InferParameter t = INFERENCE__INFER_PARAMETER__INIT;
    t.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    t.int64_param = 250000;
    Inference__ModelInferRequest__ParametersEntry te = INFERENCE__MODEL_INFER_REQUEST__PARAMETERS_ENTRY__INIT,
                                                  *tes[1] = {&te};
    te.key = (char *)"timeout";
    te.value = &t;
    f.req.n_parameters = 1;
    f.req.parameters = tes;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_OK);
    CHECK(fabs(r.req.timeout_s - 0.25) < 1e-12);
    gcodec_infer_request_free(&r);
    t.int64_param = -5;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "\"timeout\" must be 0 (none) or more microseconds");
    t.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    t.string_param = (char *)"250000";
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "\"timeout\" must be an integer (microseconds)");
    f.req.n_parameters = 0;

    /* a classification given as a string is refused with REST's message */
    k.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    k.string_param = (char *)"3";
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "\"classification\" must be a positive integer");
}

/* Each fault gets its status and the message REST gives for it. */
static void test_faults(void)
{
    fixture f;
    gcodec_infer_request r;
    char err[256];

    fixture_init(&f, 3);
    f.req.id = (char *)"caf\xe9"; /* Latin-1: echoed back, it would make the answer unreadable */
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "request \"id\" is not valid UTF-8");
    f.req.id = (char *)"caf\xc3\xa9";
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_OK);
    CHECK_STR_EQ(r.req.id, "caf\xc3\xa9");
    gcodec_infer_request_free(&r);

    fixture_init(&f, 3);
    f.in.datatype = (char *)"FP32";
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "input \"images\" must have datatype BYTES (encoded images)");

    fixture_init(&f, 3);
    f.req.n_inputs = 0;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "\"inputs\" must be an array with exactly one BYTES tensor of encoded images");

    fixture_init(&f, 3); /* N > --max-images */
    CHECK_INT_EQ(decode(&f.req, 2, &r, err), V2_ETOOMANY);
    CHECK_STR_EQ(err, "too many images in one request (limit 2)");

    fixture_init(&f, 2); /* more elements than the shape */
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "binary data holds more elements than the shape (2)");

    fixture_init(&f, 4); /* fewer */
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "binary data holds 3 elements, shape says 4");

    fixture_init(&f, 3); /* a length prefix past the buffer */
    uint8_t bad[sizeof ELEMS];
    memcpy(bad, ELEMS, sizeof ELEMS);
    bad[10] = 200;
    f.raw.data = bad;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "binary BYTES element of 200 bytes overruns the data");
    f.raw.len = 11; /* cut inside a length prefix */
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "binary BYTES element truncated in its length prefix");

    fixture_init(&f, 3);
    f.shape[0] = -1;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "input \"shape\" must hold non-negative integers");
    f.shape[0] = 0;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "input holds no images");
    f.shape[0] = INT64_MAX; /* never multiplied into an overflow */
    f.shape[1] = 1;
    f.in.n_shape = 2;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_ETOOMANY);
    f.shape[0] = 2; /* [2, 2]: not one row of answer per element */
    f.shape[1] = 2;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "input \"shape\" must be [N] or [N, 1] (N encoded images)");
    f.in.n_shape = 0;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "input \"shape\" must be an array of 1 to 4 dimensions");

    fixture_init(&f, 3); /* no data at all */
    f.req.n_raw_input_contents = 0;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK(strstr(err, "holds no data") != NULL);

    fixture_init(&f, 3); /* an unknown output, and one asked twice */
    OutReq o = INFERENCE__MODEL_INFER_REQUEST__INFER_REQUESTED_OUTPUT_TENSOR__INIT, *outs[2] = {&o, &o};
    o.name = (char *)"logits";
    f.req.n_outputs = 1;
    f.req.outputs = outs;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "unknown output \"logits\" (expected class_probs, distill_probs, fused_probs, class_rollout, "
                      "distill_rollout or token_cosine)");
    o.name = (char *)"class_probs";
    f.req.n_outputs = 2;
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_EINVAL);
    CHECK_STR_EQ(err, "output \"class_probs\" requested twice");
}

/* Bytes that are no ModelInferRequest: every prefix of a valid message, garbage, wrong wire types. */
static void test_hostile_bytes(void)
{
    fixture f;
    fixture_init(&f, 3);
    size_t len;
    uint8_t *b = pack_req(&f.req, &len);
    gcodec_infer_request r;
    char err[256];
    int ok = 0, failed_clean = 1;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = gcodec_decode_infer(b, cut, 8, &r, err, sizeof err);
        if (rc == V2_OK) { ok++; gcodec_infer_request_free(&r); }
        else if (rc != V2_EINVAL) failed_clean = 0;
    }
    CHECK(failed_clean);
    CHECK_INT_EQ(ok, 0); /* the input and raw data come last, so every prefix misses something */
    free(b);

    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34};
    CHECK_INT_EQ(gcodec_decode_infer(garbage, sizeof garbage, 8, &r, err, sizeof err), V2_EINVAL);
    CHECK(strstr(err, "not a valid ModelInferRequest") != NULL);
    /* field 1 (model_name, a string) sent as a varint: a wrong wire type */
    static const uint8_t wrong_type[] = {0x08, 0x05};
    CHECK_INT_EQ(gcodec_decode_infer(wrong_type, sizeof wrong_type, 8, &r, err, sizeof err), V2_EINVAL);
    /* field 7 (raw_input_contents) claiming 1 GiB in 4 bytes */
    static const uint8_t long_len[] = {0x3a, 0x80, 0x80, 0x80, 0x80, 0x04, 'x'};
    CHECK_INT_EQ(gcodec_decode_infer(long_len, sizeof long_len, 8, &r, err, sizeof err), V2_EINVAL);
    /* an empty message is a valid request with no inputs */
    CHECK_INT_EQ(gcodec_decode_infer((const uint8_t *)"", 0, 8, &r, err, sizeof err), V2_EINVAL);
    CHECK_STR_EQ(err, "\"inputs\" must be an array with exactly one BYTES tensor of encoded images");

    char *name, *version;
    CHECK_INT_EQ(gcodec_decode_model_ref(garbage, sizeof garbage, &name, &version), -1);
    CHECK(name == NULL && version == NULL);
    static const uint8_t ref[] = {0x0a, 0x01, 'm', 0x12, 0x01, '1'};
    CHECK_INT_EQ(gcodec_decode_model_ref(ref, sizeof ref, &name, &version), 0);
    CHECK_STR_EQ(name, "m");
    CHECK_STR_EQ(version, "1");
    free(name);
    free(version);
    CHECK_INT_EQ(gcodec_decode_empty(garbage, sizeof garbage), -1);
    CHECK_INT_EQ(gcodec_decode_empty(ref, sizeof ref), 0); /* unknown fields are skipped */
    char *svc;
    CHECK_INT_EQ(gcodec_decode_health((const uint8_t *)"", 0, &svc), 0);
    CHECK_STR_EQ(svc, "");
    free(svc);
}

/* Memory bounds: the small requests refuse a message over GCODEC_SMALL_MAX unread; ModelInfer's
 * unpacking stops at its budget (GCODEC_INFER_MEM_*) for a message of tiny fields, while a real one
 * of the same size (one big image) decodes. */
static void test_memory_bounds(void)
{
    size_t big = GCODEC_SMALL_MAX + 2;
    uint8_t *b = calloc(1, big); /* field 1 (varint) 0, repeated: each an unknown field to protobuf-c */
    for (size_t i = 0; i < big; i += 2) b[i] = 0x08;
    char *name, *version, *svc;
    CHECK_INT_EQ(gcodec_decode_model_ref(b, big, &name, &version), GCODEC_ETOOBIG);
    CHECK(name == NULL && version == NULL);
    CHECK_INT_EQ(gcodec_decode_health(b, big, &svc), GCODEC_ETOOBIG);
    CHECK(svc == NULL);
    CHECK_INT_EQ(gcodec_decode_empty(b, big), GCODEC_ETOOBIG);
    CHECK_INT_EQ(gcodec_decode_empty(b, GCODEC_SMALL_MAX), 0); /* at the bound: decoded */

    /* 200,000 empty "outputs" entries (field 6): 400 KB that would unpack into about 18 MB */
    size_t n = 400000;
    uint8_t *m = calloc(1, n);
    for (size_t i = 0; i < n; i += 2) m[i] = 0x32;
    gcodec_infer_request r;
    char err[256];
    CHECK_INT_EQ(gcodec_decode_infer(m, n, 8, &r, err, sizeof err), V2_ETOOMANY);
    CHECK(strstr(err, "ModelInferRequest of 400000 bytes needs more than 865536 bytes of memory") != NULL);
    free(m);

    /* a real request of several MB: one element of 4 MB in raw_input_contents */
    fixture f;
    fixture_init(&f, 1);
    size_t el = 4u << 20;
    uint8_t *data = calloc(1, el + 4);
    data[0] = (uint8_t)el;
    data[1] = (uint8_t)(el >> 8);
    data[2] = (uint8_t)(el >> 16);
    data[3] = (uint8_t)(el >> 24);
    f.raw = (ProtobufCBinaryData){el + 4, data};
    CHECK_INT_EQ(decode(&f.req, 8, &r, err), V2_OK);
    CHECK(r.req.n_images == 1 && r.req.images[0].len == el);
    gcodec_infer_request_free(&r);
    free(data);
    free(b);
}

static void test_encoders(void)
{
    static const char *labels[3] = {"cat", "dog", "emu"};
    api_model m;
    memset(&m, 0, sizeof m);
    m.name = "m";
    m.architecture = "arch";
    m.dtype = "F32";
    m.n_classes = 3;
    m.distilled = 1;
    m.labels = labels;
    m.version = "2";
    m.image_h = m.image_w = 32; /* a 2x2 patch grid for the explanation outputs */
    m.patch = 16;
    /* two images; both heads' logits log(p), so every softmax (and their fusion) gives back p */
    const float p[6] = {0.25f, 0.5f, 0.25f, 0.125f, 0.125f, 0.75f};
    float logits[6];
    for (int i = 0; i < 6; i++) logits[i] = logf(p[i]);
    const float *want[V2_OUT_COUNT];
    float *fused = resp_fuse_all(&m, logits, logits, 2, want);
    v2_output outs[2] = {{V2_OUT_CLASS, 0, 0}, {V2_OUT_FUSED, 2, 0}};
    size_t len = 0;
    uint8_t *b = gcodec_encode_infer(&m, "id-1", outs, 2, logits, logits, NULL, 2, &len);
    CHECK(b != NULL && fused != NULL);
    Inference__ModelInferResponse *r = b ? inference__model_infer_response__unpack(NULL, len, b) : NULL;
    CHECK(r != NULL);
    if (r && fused) {
        CHECK_STR_EQ(r->model_name, "m");
        CHECK_STR_EQ(r->model_version, "2");
        CHECK_STR_EQ(r->id, "id-1");
        CHECK_INT_EQ(r->n_outputs, 2);
        CHECK_INT_EQ(r->n_raw_output_contents, 2);
        CHECK_STR_EQ(r->outputs[0]->name, "class_probs");
        CHECK_STR_EQ(r->outputs[0]->datatype, "FP32");
        CHECK(r->outputs[0]->n_shape == 2 && r->outputs[0]->shape[0] == 2 && r->outputs[0]->shape[1] == 3);
        /* the very floats REST's fusion gives, little-endian */
        CHECK(r->raw_output_contents[0].len == 6 * sizeof(float) &&
              memcmp(r->raw_output_contents[0].data, want[V2_OUT_CLASS], 6 * sizeof(float)) == 0);
        /* and those are the softmax of log(p): p itself, independently of the fusion code */
        if (r->raw_output_contents[0].len == 6 * sizeof(float)) {
            float got[6];
            memcpy(got, r->raw_output_contents[0].data, sizeof got);
            for (int i = 0; i < 6; i++)
                CHECK_MSG(fabsf(got[i] - p[i]) < 1e-6f, "class_probs[%d] %g, want %g", i, got[i], p[i]);
        }
        CHECK_STR_EQ(r->outputs[1]->datatype, "BYTES");
        CHECK(r->outputs[1]->shape[0] == 2 && r->outputs[1]->shape[1] == 2);
        /* as REST's "score:index:label", each with its 4-byte length */
        static const char strs[] = "\x0e\0\0\0" "0.500000:1:dog" "\x0e\0\0\0" "0.250000:0:cat"
                                   "\x0e\0\0\0" "0.750000:2:emu" "\x0e\0\0\0" "0.125000:0:cat";
        CHECK_INT_EQ(r->raw_output_contents[1].len, sizeof strs - 1);
        CHECK(memcmp(r->raw_output_contents[1].data, strs, sizeof strs - 1) == 0);
    }
    if (r) inference__model_infer_response__free_unpacked(r, NULL);
    free(fused);
    free(b);

    /* the explanation outputs: two images' carried explanations (2x2 grid: class map [4], distillation
     * map [4], token cosine), each value its own position, gathered per output row after row */
    float ex[2 * 9];
    for (int i = 0; i < 18; i++) ex[i] = (float)i;
    v2_output xo[3] = {{V2_OUT_TOKEN_COSINE, 0, 0}, {V2_OUT_DISTILL_ROLLOUT, 0, 0}, {V2_OUT_CLASS_ROLLOUT, 0, 0}};
    b = gcodec_encode_infer(&m, NULL, xo, 3, logits, logits, ex, 2, &len);
    r = b ? inference__model_infer_response__unpack(NULL, len, b) : NULL;
    CHECK(r != NULL && r->n_outputs == 3 && r->n_raw_output_contents == 3);
    if (r && r->n_outputs == 3 && r->n_raw_output_contents == 3) {
        static const float cosine[2] = {8, 17}, dmap[8] = {4, 5, 6, 7, 13, 14, 15, 16}, cmap[8] = {0, 1, 2, 3, 9, 10, 11, 12};
        static const struct { const char *name; size_t n_shape; const float *want; size_t n; } x[3] = {
            {"token_cosine", 1, cosine, 2}, {"distill_rollout", 3, dmap, 8}, {"class_rollout", 3, cmap, 8}};
        for (int k = 0; k < 3; k++) {
            CHECK_STR_EQ(r->outputs[k]->name, x[k].name);
            CHECK_STR_EQ(r->outputs[k]->datatype, "FP32");
            CHECK_INT_EQ(r->outputs[k]->n_shape, x[k].n_shape);
            CHECK(r->outputs[k]->shape[0] == 2 && (x[k].n_shape == 1 || (r->outputs[k]->shape[1] == 2 &&
                                                                         r->outputs[k]->shape[2] == 2)));
            CHECK_MSG(r->raw_output_contents[k].len == x[k].n * sizeof(float) &&
                      memcmp(r->raw_output_contents[k].data, x[k].want, x[k].n * sizeof(float)) == 0,
                      "%s: %zu bytes, not the gathered floats", x[k].name, r->raw_output_contents[k].len);
        }
    }
    if (r) inference__model_infer_response__free_unpacked(r, NULL);
    free(b);

    /* metadata: every output this model offers, the explanation's with their shapes */
    b = gcodec_encode_model_metadata(&m, &len);
    Inference__ModelMetadataResponse *mm = inference__model_metadata_response__unpack(NULL, len, b);
    CHECK(mm && mm->n_inputs == 1 && mm->n_outputs == 6 && mm->outputs[2]->shape[1] == 3);
    if (mm && mm->n_outputs == 6) {
        CHECK(mm->n_versions == 1 && strcmp(mm->versions[0], "2") == 0);
        CHECK_STR_EQ(mm->inputs[0]->datatype, "BYTES");
        CHECK_STR_EQ(mm->outputs[2]->name, "fused_probs");
        CHECK_STR_EQ(mm->outputs[3]->name, "class_rollout");
        CHECK(mm->outputs[3]->n_shape == 3 && mm->outputs[3]->shape[0] == -1 && mm->outputs[3]->shape[1] == 2 &&
              mm->outputs[3]->shape[2] == 2);
        CHECK_STR_EQ(mm->outputs[5]->name, "token_cosine");
        CHECK(mm->outputs[5]->n_shape == 1 && mm->outputs[5]->shape[0] == -1);
        CHECK_STR_EQ(mm->platform, "deit_safetensors");
    }
    if (mm) inference__model_metadata_response__free_unpacked(mm, NULL);
    free(b);
    /* a one-head model has no second token to explain: four outputs */
    m.distilled = 0;
    b = gcodec_encode_model_metadata(&m, &len);
    mm = inference__model_metadata_response__unpack(NULL, len, b);
    CHECK(mm && mm->n_outputs == 4 && strcmp(mm->outputs[3]->name, "class_rollout") == 0);
    if (mm) inference__model_metadata_response__free_unpacked(mm, NULL);
    free(b);
    m.distilled = 1;

    b = gcodec_encode_flag(GCODEC_FLAG_READY, 1, &len);
    Inference__ServerReadyResponse *sr = inference__server_ready_response__unpack(NULL, len, b);
    CHECK(sr && sr->ready);
    if (sr) inference__server_ready_response__free_unpacked(sr, NULL);
    free(b);
    b = gcodec_encode_flag(GCODEC_FLAG_LIVE, 0, &len);
    CHECK(b != NULL && len == 0); /* false is the default: nothing on the wire */
    free(b);

    b = gcodec_encode_health(0, &len);
    Grpc__Health__V1__HealthCheckResponse *h = grpc__health__v1__health_check_response__unpack(NULL, len, b);
    CHECK(h && h->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    if (h) grpc__health__v1__health_check_response__free_unpacked(h, NULL);
    free(b);

    b = gcodec_encode_server_metadata("9.9", &len);
    Inference__ServerMetadataResponse *sm = inference__server_metadata_response__unpack(NULL, len, b);
    CHECK(sm && sm->n_extensions == 2);
    if (sm) {
        CHECK_STR_EQ(sm->version, "9.9");
        CHECK_STR_EQ(sm->extensions[1], "classification");
        inference__server_metadata_response__free_unpacked(sm, NULL);
    }
    free(b);
}

int main(void)
{
    test_valid();
    test_faults();
    test_hostile_bytes();
    test_memory_bounds();
    test_encoders();
    return check_summary("test_grpc_codec");
}
