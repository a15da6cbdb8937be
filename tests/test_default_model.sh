#!/bin/sh
# test_default_model.sh — the shipped default model through the real server: every example image
# is classified as its file name says, and deit-eval's accuracy on the first 1,000 Fashion-MNIST test
# images is within 0.5 points of the numbers recorded at export (models/fashion-deit/reference.json,
# quoted in the README). Then the same 1,000 images through a server at each reduced precision
# (--precision bf16, int8; DEIT_TEST_PRECISIONS overrides the list): fused accuracy within 0.5 points
# of f32's and per-image fused top-1 agreement with f32 >= 99%. A precision the engine refuses
# (not built, or the CPU lacks its instructions) is reported as NOT checked, never as passed.
# Then the shipped two-class-token model (the paper's control): served with heads class/class_2 and
# within 0.5 points of its own reference.json. Last, the shipped one-head baseline: deit-eval reports
# no second head for it (null, not 0%).
# Prints "default-model: N passed, N failed".
MODEL=${DEIT_DEFAULT_MODEL:-models/fashion-deit}
DATA=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "default-model: FAIL: $*"; }

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
    port=""
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || return 1
        port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$port" ] && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    U="http://127.0.0.1:$port"
    [ -n "$port" ]
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
bad = 0
for ours, theirs in (("class_head", "class_head"), ("distill_head", "dist_head"), ("fused", "fused")):
    diff = abs(got[ours] - 100 * ref[theirs])
    print(f"default-model: {sys.argv[3]}: {ours}: {got[ours]:.2f}% over HTTP vs {100 * ref[theirs]:.2f}% "
          f"recorded (diff {diff:.2f})")
    bad += diff > 0.5
bad += got["errors"] != 0
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

    # the two-class-token model: its second prefix token is a class token, so its heads are named
    # class/class_2 (not distillation) and /v1/models says which kind of token it is
    twocls=${DEIT_TWOCLS_MODEL:-models/fashion-vit-2cls}
    if [ -f "$twocls/model.safetensors" ]; then
        MODEL=$twocls
        if start_server; then
            info=$(curl -fsS "$U/v1/models")
            printf '%s' "$info" | python3 -c '
import json, sys
m = json.load(sys.stdin)["models"][0]
sys.exit(0 if m["second_token"] == "class" and m["prediction_heads"] == ["class", "class_2"]
         and m["distilled"] is False else 1)' \
                && ok || ko "$twocls: /v1/models does not describe two class tokens: $info"
            two=$(./build/deit-eval --url "$U/v1/predict?top_k=1" --data "$DATA" --limit 1000 --concurrency 4 --json)
            echo "default-model: two class tokens $twocls over HTTP: $two"
            check_reference "$twocls" "$two"
        else
            cat "$log"
            ko "server did not start with $twocls"
        fi
        stop_server
    fi

    # a one-head model (the shipped baseline): deit-eval reports its absent second head as null,
    # never as 0%, and its fused top-1 is its one head's
    base=${DEIT_BASELINE_MODEL:-models/fashion-vit-nodist}
    if [ -f "$base/model.safetensors" ]; then
        MODEL=$base
        if start_server; then
            one=$(./build/deit-eval --url "$U/v1/predict?top_k=1" --data "$DATA" --limit 200 --concurrency 4 --json)
            echo "default-model: one-head $base over HTTP: $one"
            printf '%s' "$one" | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if r["distill_head"] is None and r["fused"] == r["class_head"] > 80 and r["errors"] == 0 else 1)' \
                && ok || ko "one-head $base: distill_head not null, or fused != class head"
        else
            cat "$log"
            ko "server did not start with $base"
        fi
        stop_server
    fi
else
    ko "Fashion-MNIST test set not found in $DATA (package dataset-fashion-mnist)"
fi
echo "default-model: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
