#!/bin/sh
# test_cli.sh — black-box checks of build/deit-predict (the ASan build when present): output
# schema and values, per-image errors, exit codes; and deit-eval's argument checks. Prints
# "cli: N passed, N failed".
BIN=${DEIT_PREDICT:-build/asan/deit-predict}
BENCH=${DEIT_BENCH:-build/deit-bench}
[ -x "$BIN" ] || BIN=build/deit-predict
M=tests/fixtures/models
I=tests/fixtures/images
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "cli: FAIL: $*"; }
# server_port, wait_ready
. tools/wait_ready.sh

out=$("$BIN" --model $M/timm-deit-reduced --top-k 3 $I/chelsea.png $I/rocket.jpg 2>&1); rc=$?
[ "$rc" -eq 0 ] && ok || ko "two good images: exit $rc"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] && ok || ko "one line per image"
# top-1 of the fused head for chelsea.png with this model is class_0..9; check schema and ordering
line1=$(printf '%s\n' "$out" | head -n 1)
for key in '"image":"tests/fixtures/images/chelsea.png"' '"class_head":\[' '"distill_head":\[' '"fused":\[' '"heads_agree":'; do
    printf '%s' "$line1" | grep -q "$key" && ok || ko "missing $key"
done
[ "$(printf '%s' "$line1" | grep -o '"index"' | wc -l)" -eq 9 ] && ok || ko "top-3 for each of three heads"

out=$("$BIN" --model $M/timm-deit-reduced $I/chelsea.png /nonexistent.png $I/../README.md 2>&1); rc=$?
[ "$rc" -eq 1 ] && ok || ko "bad images must exit 1 (got $rc)"
printf '%s\n' "$out" | grep -q '"image":"/nonexistent.png","error":"cannot open: No such file or directory"' && ok || ko "missing file error line"
printf '%s\n' "$out" | grep -q '"error":"unsupported image format"' && ok || ko "non-image error line"
[ "$(printf '%s\n' "$out" | grep -c '"fused"')" -eq 1 ] && ok || ko "the good image still predicted"
# a FIFO named as an image is refused at once (the open does not wait for a writer)
F=$(mktemp -d)
mkfifo "$F/pipe.png"
out=$(timeout 20 "$BIN" --model $M/timm-deit-reduced "$F/pipe.png" 2>&1); rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q '"error":"not a regular file"' && ok || ko "FIFO image: exit $rc, $out"
rm -rf "$F"

# File names that are not UTF-8 (Latin-1 here) still get their line, in order, the stray bytes as
# U+FFFD: the good image's line had lost its "image" key and the bad one's error line was missing
F=$(mktemp -d)
good="$F/$(printf 'ch\351lsea.png')" bad="$F/$(printf 'b\344d.png')" R=$(printf '\357\277\275')
cp $I/chelsea.png "$good"
printf 'garbage' >"$bad"
out=$("$BIN" --model $M/timm-deit-reduced "$good" "$bad" 2>&1); rc=$?
[ "$rc" -eq 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] &&
    printf '%s\n' "$out" | head -n 1 | grep -qF "{\"image\":\"$F/ch${R}lsea.png\",\"class_head\"" &&
    printf '%s\n' "$out" | tail -n 1 | grep -qF "{\"image\":\"$F/b${R}d.png\",\"error\":\"unsupported image format\"}" &&
    ok || ko "Latin-1 file names: exit $rc, $out"
rm -rf "$F"

"$BIN" --model /nonexistent-model $I/chelsea.png >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok || ko "bad model must exit 2 (got $rc)"
err=$("$BIN" --model $M/timm-deit-reduced/config.json $I/chelsea.png 2>&1 >/dev/null)
printf '%s' "$err" | grep -q "cannot load model" && ok || ko "bad model names the problem: $err"

out=$("$BIN" --model $M/timm-deit-nodist-reduced --logits $I/rocket.jpg)
printf '%s' "$out" | grep -q '"distill_head":null' && ok || ko "one-head model: distill_head null"
[ "$(printf '%s' "$out" | grep -o '"class_logits":\[[^]]*\]' | tr ',' '\n' | wc -l)" -eq 10 ] && ok || ko "--logits: 10 class logits"

"$BIN" --model $M/timm-deit-reduced --top-k 0 $I/chelsea.png >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok || ko "--top-k 0 refused"
# Numbers are checked whole, within strtol's range and before narrowing to int: --top-k 4294967297
# ran as --top-k 1, --threads 4294967298 as 2, and a --max-pixels beyond a long became LONG_MAX
for a in top-k=4294967297 top-k=3x top-k= threads=4294967298 max-pixels=99999999999999999999 \
         max-pixels=-5 max-model-mb=0x10; do
    out=$("$BIN" --model $M/timm-deit-reduced "--$a" $I/chelsea.png 2>&1); rc=$?
    [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q -- "--${a%%=*} must be an integer from [0-9]* to [0-9]* (got \"${a#*=}\")" &&
        ok || ko "--$a: want exit 2 naming the option, got exit $rc: $out"
done

# deit-eval's options the same way (it used atoi: --limit 5abc evaluated 5 images, --limit 4294967298
# two), and an operand is refused (deit-eval 100 evaluated the whole test set). These are decided
# before the data set is read or a server asked, so --data need not exist.
EVAL=${DEIT_EVAL:-build/deit-eval}
for a in limit=5abc limit=4294967298 limit= concurrency=2x concurrency=257; do
    out=$("$EVAL" --data /nonexistent "--$a" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q -- "--${a%%=*} must be an integer from [0-9]* to [0-9]* (got \"${a#*=}\")" &&
        ok || ko "deit-eval --$a: want exit 2 naming the option, got exit $rc: $out"
done
# deit-bench's too (it used atoi and atof: --batch 2x ran batch 2, --threads 4294967297 one thread,
# --min-seconds nan or -5 ran; --iters past its 100000 runs was cut silently), leading spaces included
for a in batch=2x threads=4294967297 iters=100001 warmup=-1 batch=' 3' max-model-mb=0; do
    out=$("$BENCH" "--$a" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q -- "--${a%%=*} must be an integer from [0-9]* to [0-9]* (got \"${a#*=}\")" &&
        ok || ko "deit-bench --$a: want exit 2 naming the option, got exit $rc: $out"
done
for v in abc nan -5 inf; do
    out=$("$BENCH" --min-seconds "$v" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q -- "--min-seconds must be a number from 0 to 3600 (got \"$v\")" &&
        ok || ko "deit-bench --min-seconds $v: want exit 2, got exit $rc: $out"
done
# an uncompressed image over 64 MiB that --max-pixels allows is read (a fixed 64 MiB file limit
# refused it); the limit follows --max-pixels, 8 bytes a pixel
F=$(mktemp -d)
/usr/bin/python3 -c 'import sys; open(sys.argv[1], "wb").write(b"P6\n4900 4900\n255\n" + bytes(4900 * 4900 * 3))' "$F/big.ppm"
out=$("$BIN" "$F/big.ppm" 2>&1); rc=$?
[ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q '"fused"' && ok || ko "a 72 MB PPM within --max-pixels: exit $rc, $(printf '%s' "$out" | head -c 200)"
out=$("$BIN" --max-pixels 1000000 "$F/big.ppm" 2>&1); rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q 'over the limit of 67108864' && ok || ko "the same file with --max-pixels 1000000: exit $rc, $out"
rm -rf "$F"
# a CIELab TIFF in separate planes (refused: Pillow opens it, libtiff's RGBA path does not) names
# that on an RGB model, not "conversion from LAB to L", the 1-channel model's reason
F=$(mktemp -d)
/usr/bin/python3 - "$F/lab.tif" <<'PY'
import struct, sys
w, h = 4, 2
planes = [bytes([100] * (w * h)), bytes([10] * (w * h)), bytes([240] * (w * h))]  # L*, a*, b*
entries = []
def e(tag, typ, count, value): entries.append((tag, typ, count, value))
n_tags = 11
data_off = 8 + 2 + n_tags * 12 + 4
bps_off = data_off
strip0 = bps_off + 6
offs = [strip0 + i * w * h for i in range(3)]
offs_off = strip0 + 3 * w * h
cnts_off = offs_off + 12
e(256, 3, 1, w); e(257, 3, 1, h); e(258, 3, 3, bps_off); e(259, 3, 1, 1); e(262, 3, 1, 8)
e(273, 4, 3, offs_off); e(277, 3, 1, 3); e(278, 3, 1, h); e(279, 4, 3, cnts_off); e(284, 3, 1, 2)
e(339, 3, 1, 1)
assert len(entries) == n_tags
out = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", n_tags)
for tag, typ, count, value in entries:
    if typ == 3 and count == 1:
        out += struct.pack("<HHIHH", tag, typ, count, value, 0)
    else:
        out += struct.pack("<HHII", tag, typ, count, value)
out += struct.pack("<I", 0)
out += struct.pack("<HHH", 8, 8, 8) + b"".join(planes)
out += struct.pack("<III", *offs) + struct.pack("<III", *[w * h] * 3)
open(sys.argv[1], "wb").write(out)
PY
out=$("$BIN" --model $M/timm-deit-reduced "$F/lab.tif" 2>&1); rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q 'CIELab in separate planes' && ok || ko "planar CIELab TIFF, RGB model: exit $rc, $out"
out=$("$BIN" "$F/lab.tif" 2>&1); rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q 'conversion from LAB to L not supported' && ok || ko "planar CIELab TIFF, grey model: exit $rc, $out"
rm -rf "$F"
# DEIT_MODEL or DEIT_PRECISION set but empty: refused, as the server refuses them (the tools served
# the built-in model at f32)
for v in DEIT_MODEL DEIT_PRECISION; do
    for tool in "$BIN" "$BENCH"; do
        out=$(env "$v=" "$tool" $I/chelsea.png 2>&1); rc=$?
        [ "$rc" -eq 2 ] && ok || ko "$v= $(basename "$tool"): want exit 2, got $rc: $out"
    done
done
out=$("$BIN" --model $M/timm-deit-reduced --top-k ' 3' $I/chelsea.png 2>&1); rc=$?
[ "$rc" -eq 2 ] && ok || ko "deit-predict --top-k ' 3' (leading space): want exit 2, got $rc: $out"
out=$("$EVAL" --data /nonexistent 100 2>&1); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q 'unexpected argument "100"' && ok || ko "deit-eval 100: exit $rc, $out"

# Output that cannot be written is a failure, not exit 0 with the lines lost (both tools exited 0
# into /dev/full): deit-predict exits 2, deit-eval 1, each saying why on stderr
out=$("$BIN" --model $M/timm-deit-reduced $I/chelsea.png 2>&1 >/dev/full); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "cannot write the output: No space left on device" && ok ||
    ko "deit-predict >/dev/full: want exit 2 and the reason, got exit $rc: $out"
out=$("$BENCH" --model $M/timm-deit-reduced --iters 2 --min-seconds 0 2>&1 >/dev/full); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "cannot write the output" && ok || ko "deit-bench >/dev/full: exit $rc, $out"
# a model folder whose name is not UTF-8: deit-bench --json still prints its line (U+FFFD), as deit-predict does
F=$(mktemp -d)
cp -r $M/timm-deit-reduced "$F/$(printf 'm\351del')"
out=$("$BENCH" --model "$F/$(printf 'm\351del')" --iters 2 --min-seconds 0 --json 2>&1); rc=$?
[ "$rc" -eq 0 ] && printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["runs"] >= 2 and "\ufffd" in d["model"]' &&
    ok || ko "deit-bench --json, a non-UTF-8 model name: exit $rc, $out"
rm -rf "$F"
D=$(mktemp -d)
/usr/bin/python3 - "$D" <<'PY'
import gzip, struct, sys
d = sys.argv[1]  # two 28x28 images in the IDX layout deit-eval reads
gzip.open(d + "/t10k-images-idx3-ubyte.gz", "wb").write(struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(range(256)) * 6 + bytes(32))
gzip.open(d + "/t10k-labels-idx1-ubyte.gz", "wb").write(struct.pack(">II", 0x801, 2) + bytes([1, 2]))
PY
"${DEIT_SERVER_BIN:-build/deit-server}" --host 127.0.0.1 --port 0 --model $M/timm-deit-reduced >"$D/srv.log" 2>&1 &
srv=$!
port=$(server_port "$D/srv.log" "$srv" 10) && wait_ready "http://127.0.0.1:$port/readyz" "$srv" 10 ||
    ko "the server for deit-eval never became ready: $(cat "$D/srv.log")"
"$EVAL" --url "http://127.0.0.1:$port/v1/predict?top_k=1" --data "$D" --json >/dev/null 2>&1; rc=$?
[ "$rc" -eq 0 ] && ok || ko "deit-eval on two images: exit $rc"
out=$("$EVAL" --url "http://127.0.0.1:$port/v1/predict?top_k=1" --data "$D" --json 2>&1 >/dev/full); rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "cannot write the output: No space left on device" && ok ||
    ko "deit-eval >/dev/full: want exit 1 and the reason, got exit $rc: $out"
kill "$srv"; wait "$srv" 2>/dev/null
# every request failing (the server is gone: refused at once) is no throughput: it reported thousands
out=$("$EVAL" --url "http://127.0.0.1:$port/v1/predict?top_k=1" --data "$D" --json 2>/dev/null); rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["errors"] == 2 and d["images_per_s"] == 0, d' &&
    ok || ko "deit-eval with every request failed: want exit 1 and 0 images/s, got exit $rc: $out"
rm -rf "$D"

# Weights: NaN or infinity refused at load, naming the tensor and element (exit 2); finite weights
# that overflow float32 in the forward pass give an error line and exit 1, never an empty {} (the
# models are the reduced fixture with some values rewritten in place)
T=$(mktemp -d)
rewrite() { # DIR TENSOR=FLOAT[@INDEX] ...: a copy of timm-deit-reduced with those values set
    mkdir -p "$1" && cp $M/timm-deit-reduced/config.json "$1" && dst=$1 && shift
    /usr/bin/python3 - "$M/timm-deit-reduced/model.safetensors" "$dst/model.safetensors" "$@" <<'PY'
import json, struct, sys
src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
b = bytearray(open(src, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
hdr = json.loads(b[8:8 + n])
for e in edits:
    name, val = e.split("=")
    val, _, at = val.partition("@")
    t = hdr[name]
    assert t["dtype"] == "F32"
    lo, hi = t["data_offsets"]
    idx = range((hi - lo) // 4) if at == "" else [int(at)]
    for i in idx:
        struct.pack_into("<f", b, 8 + n + lo + 4 * i, float(val))
open(dst, "wb").write(b)
PY
}
rewrite "$T/nan" head.bias=nan@3
out=$("$BIN" --model "$T/nan" $I/chelsea.png 2>&1); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "tensor 'head.bias': element 3 of 10 is NaN" && ok || ko "NaN weight: exit $rc, $out"
rewrite "$T/overflow" norm.weight=0 norm.bias=1 head.weight=3e38
out=$("$BIN" --model "$T/overflow" $I/chelsea.png 2>/dev/null); rc=$?
[ "$rc" -eq 1 ] && ok || ko "non-finite logits must exit 1 (got $rc)"
printf '%s' "$out" | grep -q '"image":"tests/fixtures/images/chelsea.png","error":"the forward pass produced non-finite logits' && ok || ko "non-finite logits: error line, got: $out"
# The server answers that input 500 naming the cause (it was 503 "out of memory building the
# response", with a Retry-After that could never help), and goes on serving.
SERVER=${DEIT_SERVER_BIN:-build/deit-server}
"$SERVER" --host 127.0.0.1 --port 0 --model "$T/overflow" > "$T/srv.log" 2>&1 &
srv=$!
port=$(server_port "$T/srv.log" "$srv" 10) || ko "the overflow model's server wrote no port: $(cat "$T/srv.log")"
for _ in 1 2; do
    got=$(curl -s -w ' %{http_code}' -H 'Content-Type: image/png' --data-binary @$I/chelsea.png "http://127.0.0.1:$port/v1/predict")
    case "$got" in
        *"non-finite logits (NaN or infinity)"*" 500") ok ;;
        *) ko "server, non-finite logits: want 500 naming them, got: $got" ;;
    esac
done
kill "$srv"; wait "$srv" 2>/dev/null
# A final norm that zeroes both tokens: their cosine is undefined, answered null (it was 0.0,
# "orthogonal")
rewrite "$T/zero_norm" norm.weight=0 norm.bias=0
out=$("$BIN" --model "$T/zero_norm" --explain $I/chelsea.png 2>&1)
printf '%s' "$out" | grep -q '"token_cosine":null' && ok || ko "zeroed tokens: token_cosine must be null, got: $out"
# A model whose explained image would keep over 1 GiB of attention (20 blocks of 4098 tokens: 64x64
# patches of 2 pixels, width 8, zero weights): it predicts, but --explain and ?explain=1 are refused
# naming the size, before any pass (they used to allocate it all)
mkdir -p "$T/wide"
python3 - "$T/wide" <<'PY'
import json, struct, sys
D, depth, T = 8, 20, 1 + 64 * 64
shapes = {"cls_token": [1, 1, D], "dist_token": [1, 1, D], "pos_embed": [1, T + 1, D],
          "patch_embed.proj.weight": [D, 3, 2, 2], "patch_embed.proj.bias": [D],
          "norm.weight": [D], "norm.bias": [D], "head.weight": [2, D], "head.bias": [2],
          "head_dist.weight": [2, D], "head_dist.bias": [2]}
for b in range(depth):
    for n, sh in (("norm1", [D]), ("norm2", [D])):
        shapes[f"blocks.{b}.{n}.weight"] = sh; shapes[f"blocks.{b}.{n}.bias"] = sh
    for n, o in (("attn.qkv", 3 * D), ("attn.proj", D), ("mlp.fc1", D), ("mlp.fc2", D)):
        shapes[f"blocks.{b}.{n}.weight"] = [o, D]; shapes[f"blocks.{b}.{n}.bias"] = [o]
head, off = {}, 0
for k, sh in shapes.items():
    n = 4
    for d in sh: n *= d
    head[k] = {"dtype": "F32", "shape": sh, "data_offsets": [off, off + n]}; off += n
h = json.dumps(head).encode()
with open(sys.argv[1] + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + bytes(off))
json.dump({"model_args": {"num_heads": 1, "img_size": 128}}, open(sys.argv[1] + "/config.json", "w"))
PY
out=$("$BIN" --model "$T/wide" --explain $I/chelsea.png 2>&1); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "explain is not available for this model: an explained image keeps 1281 MiB" && ok ||
    ko "--explain over the attention limit: exit $rc, $out"
# deit-bench: a forward pass that fails (this explanation is over the limit) is an error, not a time
out=$("$BENCH" --model "$T/wide" --explain --iters 2 --min-seconds 0 --json 2>&1); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "the forward pass failed" && ! printf '%s' "$out" | grep -q images_per_s && ok ||
    ko "deit-bench --explain over the attention limit: exit $rc, $out"
"$SERVER" --host 127.0.0.1 --port 0 --model "$T/wide" --workers 1 > "$T/srv-wide.log" 2>&1 &
srv=$!
port=$(server_port "$T/srv-wide.log" "$srv" 30) && wait_ready "http://127.0.0.1:$port/readyz" "$srv" 60 || ko "the wide model's server never became ready: $(cat "$T/srv-wide.log")"
got=$(curl -s -w ' %{http_code}' -H 'Content-Type: image/png' --data-binary @$I/chelsea.png "http://127.0.0.1:$port/v1/predict?explain=1")
case "$got" in
    *"explain is not available for this model"*"1281 MiB"*" 400") ok ;;
    *) ko "server, explain over the attention limit: want 400 naming the size, got: $got" ;;
esac
got=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: image/png' --data-binary @$I/chelsea.png "http://127.0.0.1:$port/v1/predict")
[ "$got" = 200 ] && ok || ko "server, the same model without explain: want 200, got $got"
kill "$srv"; wait "$srv" 2>/dev/null
rm -rf "$T"

# --explain: rollout maps and token_cosine, the same numbers as the float64 reference (issue 15)
for model in timm-deit-reduced timm-deit-nodist-reduced; do
    out=$("$BIN" --model $M/$model --explain $I/chelsea.png $I/coffee.png); rc=$?
    [ "$rc" -eq 0 ] && ok || ko "--explain on $model: exit $rc"
    res=$(printf '%s\n' "$out" | /usr/bin/python3 -c '
import json, sys
sys.path.insert(0, "tools")
import numpy as np
from explain_ref import read_safetensors
refs = read_safetensors("tests/fixtures/explain-refs.safetensors")
model = sys.argv[1]
for line in sys.stdin:
    d = json.loads(line)
    img, ex = d["image"].split("/")[-1], d["explain"]
    key = model + "/" + img
    assert ex["grid"] == [14, 14], ex["grid"]
    assert np.abs(np.array(ex["rollout"]["class_token"]) - refs[key + "/rollout_class"].ravel()).max() < 1e-5
    if key + "/token_cosine" in refs:
        assert np.abs(np.array(ex["rollout"]["distill_token"]) - refs[key + "/rollout_distill"].ravel()).max() < 1e-5
        assert abs(ex["token_cosine"] - refs[key + "/token_cosine"][0]) < 1e-5
    else:
        assert ex["rollout"]["distill_token"] is None and ex["token_cosine"] is None
print("ok")
' $model 2>&1)
    [ "$res" = ok ] && ok || ko "--explain on $model: $res"
done
out=$("$BIN" --model $M/timm-deit-reduced $I/chelsea.png); rc=$?
if [ $rc -ne 0 ] || ! printf '%s' "$out" | grep -q '"fused"'; then ko "no --explain: exit $rc, output: $out"
elif printf '%s' "$out" | grep -q '"explain"'; then ko "no --explain, yet an explain key"
else ok; fi

# --precision (and $DEIT_PRECISION): bf16 and int8 give the f32 top-1 on this image, or, on a CPU
# without their instructions, refuse naming them; an unknown precision and isa avx2 are refused
top1() { printf '%s' "$1" | grep -o '"fused":\[{"index":[0-9]*' | grep -o '[0-9]*$'; }
f32=$("$BIN" --model $M/timm-deit-reduced $I/chelsea.png)
for p in bf16 int8; do
    isa=$([ $p = bf16 ] && echo AVX512_BF16 || echo AVX512_VNNI)
    out=$("$BIN" --model $M/timm-deit-reduced --precision $p $I/chelsea.png 2>&1); rc=$?
    if [ "$rc" -eq 0 ]; then
        [ -n "$(top1 "$out")" ] && [ "$(top1 "$out")" = "$(top1 "$f32")" ] && ok || ko "--precision $p: top-1 differs from f32"
        [ "$out" != "$f32" ] && ok || ko "--precision $p: output identical to f32 (precision ignored?)"
        env_out=$(DEIT_PRECISION=$p "$BIN" --model $M/timm-deit-reduced $I/chelsea.png)
        [ "$env_out" = "$out" ] && ok || ko "DEIT_PRECISION=$p differs from --precision $p"
    else
        printf '%s' "$out" | grep -q "$isa" && ok || ko "--precision $p refused without naming $isa: $out"
    fi
    out=$(DEIT_ISA=avx2 "$BIN" --model $M/timm-deit-reduced --precision $p $I/chelsea.png 2>&1); rc=$?
    [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "$isa" && ok || ko "isa avx2 + $p: exit $rc, $out"
done
"$BIN" --model $M/timm-deit-reduced --precision fp8 $I/chelsea.png >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok || ko "--precision fp8 refused (got $rc)"

# deit-server in a pod beside a Service named "deit": Kubernetes sets DEIT_PORT=tcp://IP:PORT there.
# Refused at start (exit 2) with a message that names the service link and the fix (it was only
# "--port must be an integer"); --help still prints the flags and exits 0, whatever the environment.
SERVER=${DEIT_SERVER_BIN:-build/deit-server}
out=$(DEIT_PORT=tcp://10.0.0.12:8080 timeout 20 "$SERVER" --host 127.0.0.1 --model $M/timm-deit-reduced 2>&1); rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "DEIT_PORT=tcp://10.0.0.12:8080 looks like a Kubernetes service link" &&
    printf '%s' "$out" | grep -q "enableServiceLinks: false" && ok || ko "DEIT_PORT service link: exit $rc, $out"
out=$(DEIT_PORT=tcp://10.0.0.12:8080 DEIT_WORKERS=many timeout 20 "$SERVER" --help 2>&1); rc=$?
[ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q '^usage:' && printf '%s' "$out" | grep -q 'DEIT_PORT' && ok ||
    ko "--help with bad DEIT_* variables: exit $rc, $(printf '%s' "$out" | head -n 2)"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
