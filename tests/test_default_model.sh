#!/bin/sh
# test_default_model.sh — the shipped default model through the real server: every example image
# is classified as its file name says, and deit-eval's accuracy on the first 1,000 Fashion-MNIST test
# images is within 0.5 points of the numbers recorded at export (models/fashion-deit/reference.json,
# quoted in the README). Then the same 1,000 images through a server at each reduced precision
# (--precision bf16, int8; DEIT_TEST_PRECISIONS overrides the list): fused accuracy within 0.5 points
# of f32's and per-image fused top-1 agreement with f32 >= 99%. A precision the engine refuses
# (not built, or the CPU lacks its instructions) is reported as NOT checked, never as passed.
# Then every other model in models/ (the experiment's other arms: the one-head baseline, two class
# tokens, ...): heads as its config.json declares them, and within 0.5 points of its own
# reference.json (a one-head model's second head null in deit-eval, not 0%).
# Prints "default-model: N passed, N failed".
DEFAULT=${DEIT_DEFAULT_MODEL:-models/fashion-deit}
MODEL=$DEFAULT
DATA=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "default-model: FAIL: $*"; }
# server_port, wait_ready
. tools/wait_ready.sh

work=$(mktemp -d)
log="$work/server.log"
pid=""
trap 'stop_server; rm -rf "$work"' EXIT

# start_server [flags...]: a server on a free loopback port; sets pid and U. Returns 1 when it exits
# before it is ready (its log is in $log).
start_server() {
    : >"$log"
    ./build/deit-server --model "$MODEL" --host 127.0.0.1 --port 0 "$@" 2>"$log" &
    pid=$!
    port=$(server_port "$log" "$pid" 30) || return 1
    U="http://127.0.0.1:$port"
    wait_ready "$U/readyz" "$pid" 30
}
stop_server() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=""
}
# check_reference MODEL_DIR EVAL_JSON: each head's accuracy over HTTP within 0.5 points of what
# PyTorch recorded at export (MODEL_DIR/reference.json), and no failed request
check_reference() {
    if python3 - "$1/reference.json" "$2" "$1" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["accuracy"]
got = json.loads(sys.argv[2])
bad = got["errors"] != 0
if "head" in ref:  # one head: deit-eval reports the absent second head as null and fuses nothing
    pairs = (("class_head", "head"),)
    if got["distill_head"] is not None or got["fused"] != got["class_head"]:
        print(f"default-model: {sys.argv[3]}: one head, but distill_head {got['distill_head']!r}, "
              f"fused {got['fused']} vs class head {got['class_head']}")
        bad += 1
else:
    pairs = (("class_head", "class_head"), ("distill_head", "dist_head"), ("fused", "fused"))
for ours, theirs in pairs:
    diff = abs(got[ours] - 100 * ref[theirs])
    print(f"default-model: {sys.argv[3]}: {ours}: {got[ours]:.2f}% over HTTP vs {100 * ref[theirs]:.2f}% "
          f"recorded (diff {diff:.2f})")
    bad += diff > 0.5
sys.exit(1 if bad else 0)
PY
    then ok; else ko "$1: accuracy over HTTP differs from reference.json by more than 0.5 points"; fi
}

if ! start_server; then
    cat "$log"
    echo "default-model: 0 passed, 1 failed"
    exit 1
fi

# examples/<index>_<name>.png: the fused top-1 index must be <index>
for f in examples/*.png; do
    want=$(basename "$f" | cut -d_ -f1)
    got=$(curl -fsS -F "image=@$f" "$U/v1/predict?top_k=1" | sed -n 's/.*"fused":\[{"index":\([0-9]*\).*/\1/p')
    [ "$got" = "$want" ] && ok || ko "$f: fused top-1 is '$got', expected $want"
done

if [ -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    res=$(./build/deit-eval --url "$U/v1/predict?top_k=1" --data "$DATA" --limit 1000 --concurrency 4 --json \
          --predictions "$work/f32.txt")
    echo "default-model: eval over HTTP: $res"
    check_reference "$MODEL" "$res"
    stop_server

    # each reduced precision against f32 on the same 1,000 images
    for prec in ${DEIT_TEST_PRECISIONS:-bf16 int8}; do
        if ! start_server --precision "$prec"; then
            why=$(sed -n 's/.*cannot load model: //p' "$log" | head -n 1)
            if printf '%s' "$why" | grep -q 'not built yet\|this CPU'; then
                echo "default-model: precision $prec NOT checked: the engine refuses it: $why"
            else
                cat "$log"
                ko "server did not start at --precision $prec"
            fi
            stop_server
            continue
        fi
        got=$(./build/deit-eval --url "$U/v1/predict?top_k=1" --data "$DATA" --limit 1000 --concurrency 4 \
              --json --predictions "$work/$prec.txt")
        echo "default-model: eval over HTTP at $prec: $got"
        if python3 - "$res" "$got" "$work/f32.txt" "$work/$prec.txt" "$prec" <<'PY'
import json, sys
f32, red = json.loads(sys.argv[1]), json.loads(sys.argv[2])
a = [int(x.split()[0]) for x in open(sys.argv[3])]  # lines: fused top-1, true label
b = [int(x.split()[0]) for x in open(sys.argv[4])]
prec = sys.argv[5]
bad = 0
if red.get("precision") != prec:
    print(f"default-model: the server reports precision {red.get('precision')!r}, not {prec!r}")
    bad += 1
diff = abs(red["fused"] - f32["fused"])
agree = 100.0 * sum(x == y and x >= 0 for x, y in zip(a, b)) / max(len(a), 1)
print(f"default-model: {prec}: fused {red['fused']:.2f}% vs f32 {f32['fused']:.2f}% (diff {diff:.2f}), "
      f"per-image fused top-1 agreement with f32 {agree:.2f}% over {len(a)} images")
bad += diff > 0.5 or agree < 99.0 or len(a) != len(b) or red["errors"] != 0
sys.exit(1 if bad else 0)
PY
        then ok; else ko "$prec: accuracy or agreement with f32 out of bounds"; fi
        stop_server
    done

    # every other shipped model (the experiment's other arms: baseline, two class tokens, ...): its
    # heads as its config.json declares them in /v1/models (a second class token is named class_2,
    # never distillation; a one-head model's absent second head is null in deit-eval, never 0%), and
    # its accuracy on the same 1,000 images within 0.5 points of its own reference.json
    for other in ${DEIT_OTHER_MODELS:-models/*/}; do
        other=${other%/}
        [ "$other" = "${DEFAULT%/}" ] && continue
        [ -f "$other/model.safetensors" ] && [ -f "$other/reference.json" ] || continue
        MODEL=$other
        if ! start_server; then
            cat "$log"
            ko "server did not start with $other"
            continue
        fi
        info=$(curl -fsS "$U/v1/models")
        printf '%s' "$info" | python3 -c '
import json, sys
cfg = json.load(open(sys.argv[1] + "/config.json"))
m = json.load(sys.stdin)["models"][0]
two = "head_dist" in cfg.get("pretrained_cfg", {}).get("classifier", [])
second = cfg.get("second_token", "distillation") if two else None
want = {"class": ["class", "class_2"], "distillation": ["class", "distillation"], None: ["class"]}[second]
sys.exit(0 if m["prediction_heads"] == want and m.get("second_token") == second
         and m["distilled"] is (second == "distillation") else 1)' "$other" \
            && ok || ko "$other: /v1/models does not describe the heads its config.json declares: $info"
        got=$(./build/deit-eval --url "$U/v1/predict?top_k=1" --data "$DATA" --limit 1000 --concurrency 4 --json)
        echo "default-model: $other over HTTP: $got"
        check_reference "$other" "$got"
        stop_server
    done
else
    ko "Fashion-MNIST test set not found in $DATA (package dataset-fashion-mnist)"
fi
echo "default-model: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
