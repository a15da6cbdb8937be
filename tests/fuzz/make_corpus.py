#!/usr/bin/python3
"""make_corpus.py — regenerates the fuzzers' seed corpora in tests/fuzz/corpus/ (small inputs only)."""
import io
import json
import os
import struct
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests", "fixtures")


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors ---------------------------------------------------------------------------------
def st_file(tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes); returns a valid safetensors blob."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors():
    put("safetensors", "empty_header", st_file({}))
    put("safetensors", "metadata_only", st_file({}, {"format": "pt"}))
    put("safetensors", "all_float_dtypes", st_file({
        "f32": ("F32", [2, 3], struct.pack("<6f", 1, -2, 0.5, 1e30, -0.0, 3.25)),
        "f16": ("F16", [4], struct.pack("<4H", 0x3c00, 0x7c00, 0x0001, 0xfe00)),
        "bf16": ("BF16", [2, 1], struct.pack("<2H", 0x3f80, 0xff80)),
        "f64": ("F64", [2], struct.pack("<2d", 1e300, -1e-300)),
    }, {"format": "pt", "note": "seed"}))
    put("safetensors", "int_dtypes", st_file({
        "b": ("BOOL", [2], b"\x00\x01"), "u8": ("U8", [1], b"\x07"), "i8": ("I8", [1], b"\xff"),
        "i16": ("I16", [1], b"\x01\x02"), "u16": ("U16", [1], b"\x01\x02"),
        "i32": ("I32", [1], b"\x01\x02\x03\x04"), "u32": ("U32", [1], b"\x01\x02\x03\x04"),
        "i64": ("I64", [1], bytes(8)), "u64": ("U64", [1], bytes(8)),
        "e4m3": ("F8_E4M3", [1], b"\x38"), "e5m2": ("F8_E5M2", [1], b"\x3c"),
    }))
    put("safetensors", "scalar_and_empty", st_file({
        "scalar": ("F32", [], struct.pack("<f", 7)), "empty": ("F32", [0, 5], b""),
        "after": ("F16", [1], b"\x00\x3c"),
    }))
    put("safetensors", "eight_dims", st_file({"t": ("F32", [1] * 8, struct.pack("<f", 1))}))
    # Real checkpoint headers with the first 1 KiB of data: the right names and shapes, ranges
    # past the end (the fuzzer shrinks them).
    for m in ("timm-deit-reduced", "hf-deit-reduced", "timm-deit-reduced-bf16"):
        raw = open(os.path.join(FIX, "models", m, "model.safetensors"), "rb").read()
        hlen = struct.unpack("<Q", raw[:8])[0]
        put("safetensors", "header_" + m, raw[:8 + hlen + 1024])


# ---- config --------------------------------------------------------------------------------------
def config():
    def rd(*p):
        return open(os.path.join(FIX, "models", *p), "rb").read()
    timm_cfg, nodist_cfg = rd("timm-deit-reduced", "config.json"), rd("timm-deit-nodist-reduced", "config.json")
    hf_cfg, hf_pre = rd("hf-deit-reduced", "config.json"), rd("hf-deit-reduced", "preprocessor_config.json")
    put("config", "timm", b"\x00" + timm_cfg)
    put("config", "timm_nodist", b"\x01" + nodist_cfg)
    put("config", "hf", b"\x02" + hf_cfg + b"\x00" + hf_pre)
    put("config", "timm_no_config", b"\x40")
    put("config", "hf_no_docs", b"\xc2")
    put("config", "timm_minimal", b"\x00" + json.dumps({
        "architecture": "deit_tiny_distilled_patch16_224.fb_in1k", "model_args": {"embed_dim": 64, "depth": 3},
        "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "bilinear", "crop_pct": 1.0,
                           "mean": 0.5, "std": [0.5]},
        "label_descriptions": {"n%08d" % i: "label %d" % i for i in range(10)}}).encode())
    put("config", "timm_top_level", b"\x01" + json.dumps({
        "num_classes": 10, "input_size": [3, 224, 224], "crop_pct": 0.95, "interpolation": "nearest",
        "mean": [0.1, 0.2, 0.3], "std": [0.3, 0.2, 0.1], "global_pool": "token", "crop_mode": "center",
        "model_args": {"img_size": [224, 224], "mlp_ratio": 4.0, "qkv_bias": True, "num_heads": 4}}).encode())
    put("config", "hf_shortest_edge", b"\x02" + json.dumps({
        "hidden_size": 64, "num_attention_heads": 4, "layer_norm_eps": 1e-6, "image_size": [224, 224],
        "qkv_bias": True, "hidden_act": "gelu", "architectures": ["DeiTForImageClassificationWithTeacher"],
        "id2label": {str(i): "c%d" % i for i in range(10)}}).encode() + b"\x00" + json.dumps({
        "size": {"shortest_edge": 256}, "crop_size": 224, "resample": 2, "do_rescale": False,
        "do_normalize": False, "image_mean": [0.5], "image_std": 0.5, "rescale_factor": 0.5}).encode())
    put("config", "hf_no_crop", b"\x82" + json.dumps({"image_size": 224}).encode() + b"\x00" + json.dumps({
        "do_center_crop": False, "size": {"height": 224, "width": 224}, "resample": 0}).encode())


# ---- images --------------------------------------------------------------------------------------
def png_bytes(im, **kw):
    b = io.BytesIO()
    im.save(b, "PNG", **kw)
    return b.getvalue()


def images():
    put("image", "tiny_7x5.png", open(os.path.join(FIX, "images", "tiny_7x5.png"), "rb").read())
    src = Image.open(os.path.join(FIX, "images", "chelsea.png")).convert("RGB").resize((24, 16))
    for name, fmt, im, kw in [
        ("q75_420.jpg", "JPEG", src, {"quality": 75}),
        ("q95_444.jpg", "JPEG", src, {"quality": 95, "subsampling": 0}),
        ("progressive.jpg", "JPEG", src, {"quality": 80, "progressive": True}),
        ("grey.jpg", "JPEG", src.convert("L"), {"quality": 80}),
        ("cmyk.jpg", "JPEG", src.convert("CMYK"), {"quality": 80}),
        ("rgb.bmp", "BMP", src, {}),
        ("palette.bmp", "BMP", src.convert("P"), {}),
        ("grey.bmp", "BMP", src.convert("L"), {}),
        ("palette.gif", "GIF", src.convert("P"), {}),
        ("rgb.ppm", "PPM", src, {}),
        ("grey.pgm", "PPM", src.convert("L"), {}),
        ("rgb.tga", "TGA", src, {}),
        ("rle.tga", "TGA", src, {"compression": "tga_rle"}),
    ]:
        b = io.BytesIO()
        im.save(b, fmt, **kw)
        put("image", name, b.getvalue())
    put("image", "rgba.png", png_bytes(src.convert("RGBA")))
    put("image", "la.png", png_bytes(src.convert("LA")))
    put("image", "palette.png", png_bytes(src.convert("P")))
    put("image", "palette_trns.png", png_bytes(src.convert("P"), transparency=0))
    put("image", "grey16.png", png_bytes(Image.new("I;16", (9, 7), 40000)))
    put("image", "one_bit.png", png_bytes(src.convert("1")))
    put("image", "one_pixel.png", png_bytes(Image.new("RGB", (1, 1), (10, 20, 30))))
    put("image", "tall_1x64.png", png_bytes(Image.new("L", (1, 64), 7)))
    # PNGs with cut, split or damaged image data (tests/pillow/make_png_stream.py), for the
    # inflate that follows Pillow's reads (image_png_idat.c)
    edge = os.path.join(FIX, "pillow-edge")
    for n in sorted(os.listdir(edge)):
        if n.startswith("png_") and n.endswith(".png"):
            with open(os.path.join(edge, n), "rb") as f:
                put("image", n, f.read())
    # An animated GIF: only the first frame counts.
    b = io.BytesIO()
    f1, f2 = Image.new("P", (8, 8), 1), Image.new("P", (8, 8), 2)
    f1.save(b, "GIF", save_all=True, append_images=[f2], duration=10)
    put("image", "animated.gif", b.getvalue())


# ---- HTTP API parsers ----------------------------------------------------------------------------
def multipart():
    tiny = open(os.path.join(FIX, "images", "tiny_7x5.png"), "rb").read()

    def form(ct, parts, boundary="XyZ", preamble=b"", epilogue=b""):
        body = preamble
        for headers, content in parts:
            body += b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
        body += b"--" + boundary.encode() + b"--\r\n" + epilogue
        return ct.encode() + b"\n" + body

    img = (b'Content-Disposition: form-data; name="image"; filename="t.png"\r\nContent-Type: image/png', tiny)
    put("multipart", "one_image", form("multipart/form-data; boundary=XyZ", [img]))
    put("multipart", "quoted_boundary", form('multipart/form-data; charset=utf-8; boundary="a b:c"',
                                             [img], boundary="a b:c"))
    put("multipart", "fields_and_images", form("Multipart/Form-Data;boundary=----WebKitFormBoundary7MA4YWxk", [
        (b'Content-Disposition: form-data; name="top_k"', b"3"),
        (b'content-disposition: form-data; name="a"; filename="x.jpg"\r\ncontent-type: image/jpeg', b"\xff\xd8\xff"),
        (b'Content-Disposition: form-data; name="b"; filename=""', b""),
        (b'Content-Disposition: form-data; name="c"\r\nContent-Type: text/plain; charset=utf-8', b"hello"),
    ], boundary="----WebKitFormBoundary7MA4YWxk", preamble=b"preamble\r\n", epilogue=b"epilogue"))
    put("multipart", "no_close", b"multipart/form-data; boundary=XyZ\n--XyZ\r\nContent-Disposition: form-data; "
        b'name="image"\r\n\r\nabc\r\n--XyZ\r\n')
    put("multipart", "lf_only", b"multipart/form-data; boundary=XyZ\n--XyZ\nContent-Disposition: form-data; "
        b'name="image"; filename="f"\n\nabc\n--XyZ--\n')
    put("multipart", "image_type", b"image/jpeg\n\xff\xd8\xff\xe0")
    put("multipart", "no_boundary", b"multipart/form-data; boundary=\n--XyZ--")


def v2():
    j = {"id": "req-1", "inputs": [{"name": "image", "shape": [2], "datatype": "BYTES",
                                    "data": ["aGVsbG8=", "d29ybGQh"]}],
         "outputs": [{"name": "fused_probs", "parameters": {"classification": 3}}, {"name": "class_probs"}]}
    put("v2", "json_two_images", b"\x10" + json.dumps(j).encode())
    put("v2", "json_nested", b"\x10" + json.dumps({"inputs": [{"name": "x", "shape": [2, 1], "datatype": "BYTES",
        "parameters": {"content_type": "base64"}, "data": [["aGk="], ["aGk"]]}]}).encode())
    put("v2", "json_explain", b"\x10" + json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES",
        "data": ["aGk="]}], "outputs": [{"name": "class_rollout"}, {"name": "distill_rollout",
        "parameters": {"binary_data": True}}, {"name": "token_cosine", "parameters": {"classification": 2}}]}).encode())
    put("v2", "json_too_many", b"\x02" + json.dumps({"inputs": [{"name": "x", "shape": [3], "datatype": "BYTES",
        "data": ["aGk=", "aGk=", "aGk="]}], "outputs": [{"name": "distill_probs"}]}).encode())
    els = [b"\x89PNG-one", b"JPEG2"]
    bin_ = b"".join(struct.pack("<I", len(e)) + e for e in els)
    hdr = json.dumps({"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES",
                                  "parameters": {"binary_data_size": len(bin_)}}],
                      "outputs": [{"name": "class_probs", "parameters": {"binary_data": True}}]}).encode()
    put("v2", "binary_two_images", b"\x11" + struct.pack("<H", len(hdr)) + hdr + bin_)
    put("v2", "binary_truncated", b"\x11" + struct.pack("<H", len(hdr)) + hdr + bin_[:7])
    put("v2", "binary_header_past_end", b"\x11\xff\xff{}")


def query():
    for name, s in [("top_k", b"5"), ("nine_digits", b"999999999"), ("ten_digits", b"1234567890"),
                    ("zero", b"0"), ("predict", b"/v1/predict"), ("torchserve", b"/predictions/deit"),
                    ("v2_infer", b"/v2/models/deit/versions/1/infer"), ("v2_ready", b"/v2/models/deit/ready"),
                    ("v2_model", b"/v2/models/deit"), ("v2", b"/v2"), ("health", b"/v2/health/live"),
                    ("metrics", b"/metrics"), ("models", b"/v1/models"), ("empty_model", b"/v2/models//infer"),
                    ("slashes", b"//v1//predict/")]:
        put("query", name, s)
    # issue 21: the trailing-slash server path and TorchServe's {model}/{version}
    for name, s in [("v2_slash", b"/v2/"), ("torchserve_version", b"/predictions/deit/1.0"),
                    ("torchserve_empty_version", b"/predictions/deit/"), ("torchserve_deep", b"/predictions/a/b/c")]:
        put("query", name, s)


def endpoint():
    """fuzz_endpoint: byte 0 = route | encoding << 2 | binary-v2 16 | multipart 32, byte 1 = v2 header
    length, then the body; the same bytes also go through the log escapers."""
    import gzip
    import zlib
    v2 = json.dumps({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["aGk="]}]}).encode()
    mp = (b"--B\r\nContent-Disposition: form-data; name=\"i\"; filename=\"x\"\r\n\r\nIMG\r\n--B--\r\n")
    hdr = json.dumps({"inputs": [{"name": "i", "shape": [1], "datatype": "BYTES",
                                  "parameters": {"binary_data_size": 6}}]}).encode()
    put("endpoint", "raw", bytes([0, 0]) + b"\x89PNG\r\n\x1a\n")
    put("endpoint", "raw_gzip", bytes([0 | 1 << 2, 0]) + gzip.compress(b"\x89PNG\r\n\x1a\n" * 8))
    put("endpoint", "multipart", bytes([32, 0]) + mp)
    put("endpoint", "multipart_deflate", bytes([1 | 2 << 2 | 32, 0]) + zlib.compress(mp))
    put("endpoint", "v2_json", bytes([2, 0]) + v2)
    put("endpoint", "v2_gzip", bytes([2 | 1 << 2, 0]) + gzip.compress(v2))
    put("endpoint", "v2_raw_deflate", bytes([3 | 2 << 2, 0]) + zlib.compress(v2)[2:-4])
    put("endpoint", "v2_binary", bytes([2 | 16, len(hdr)]) + hdr + b"\x02\x00\x00\x00hi")
    put("endpoint", "gzip_bomb", bytes([0 | 1 << 2, 0]) + gzip.compress(bytes(200000)))
    put("endpoint", "gzip_truncated", bytes([0 | 1 << 2, 0]) + gzip.compress(v2)[:20])
    put("endpoint", "gzip_trailing", bytes([2 | 1 << 2, 0]) + gzip.compress(v2) + b"junk")
    # log-forging paths (issue 21): quotes, CR/LF, NUL, invalid UTF-8, as the escapers see them
    put("endpoint", "forged_json", bytes([0, 0]) + b'/x","status":200,"injected":"y')
    put("endpoint", "forged_lines", bytes([0, 0]) + b"/a\r\nfake 200 images=1\n\x00\xff\xfe\xc0\xaf\xed\xa0\x80\\\"")


# ---- grpc: byte 0 = max_images - 1, then a ModelInferRequest (protobuf, encoded here by hand) -----
def pb_varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def pb_field(num, payload, wire=2):
    """A length-delimited field (wire 2) or a varint field (wire 0, payload already a varint)."""
    key = pb_varint(num << 3 | wire)
    return key + pb_varint(len(payload)) + payload if wire == 2 else key + payload


def pb_str(num, text):
    return pb_field(num, text.encode() if isinstance(text, str) else text)


def pb_input(name, dtype, shape, contents=None):
    m = pb_str(1, name) + pb_str(2, dtype) + pb_field(3, b"".join(pb_varint(v & (2**64 - 1)) for v in shape))
    if contents is not None:
        m += pb_field(5, b"".join(pb_str(8, c) for c in contents))
    return m


def pb_output(name, k=None, k_text=None):
    m = pb_str(1, name)
    if k is not None:  # parameters {"classification": {int64_param: k}}
        m += pb_field(2, pb_str(1, "classification") + pb_field(2, pb_field(2, pb_varint(k), 0)))
    if k_text is not None:  # the same as a string_param: a wrong type
        m += pb_field(2, pb_str(1, "classification") + pb_field(2, pb_str(3, k_text)))
    return m


def bytes_el(b):
    return struct.pack("<I", len(b)) + b


def grpc():
    img = open(os.path.join(FIX, "images", "tiny_7x5.png"), "rb").read()
    seeds = {
        "raw_two": pb_str(1, "m") + pb_str(3, "id") + pb_field(5, pb_input("x", "BYTES", [2]))
        + pb_str(7, bytes_el(img) + bytes_el(b"ab")),
        "contents": pb_str(1, "m") + pb_str(2, "1") + pb_field(5, pb_input("x", "BYTES", [2, 1], [img, b"zz"])),
        "outputs": pb_str(1, "m") + pb_field(5, pb_input("x", "BYTES", [1])) + pb_field(6, pb_output("fused_probs", 3))
        + pb_field(6, pb_output("class_probs")) + pb_str(7, bytes_el(img)),
        "explain_outputs": pb_str(1, "m") + pb_field(5, pb_input("x", "BYTES", [1]))
        + pb_field(6, pb_output("class_rollout")) + pb_field(6, pb_output("token_cosine", 2)) + pb_str(7, bytes_el(img)),
        "k_as_string": pb_str(1, "m") + pb_field(5, pb_input("x", "BYTES", [1]))
        + pb_field(6, pb_output("fused_probs", k_text="3")) + pb_str(7, bytes_el(img)),
        "length_overrun": pb_str(1, "m") + pb_field(5, pb_input("x", "BYTES", [1]))
        + pb_str(7, struct.pack("<I", 1000) + b"abc"),
        "fp32_input": pb_str(1, "m") + pb_field(5, pb_input("x", "FP32", [4])) + pb_str(7, b"\0" * 16),
        "health": pb_str(1, "inference.GRPCInferenceService"),
    }
    for name, msg in seeds.items():
        put("grpc", name, bytes([7]) + msg)


if __name__ == "__main__":
    safetensors()
    config()
    images()
    multipart()
    v2()
    query()
    endpoint()
    grpc()
    sys.exit(0)
