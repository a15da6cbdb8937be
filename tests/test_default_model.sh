#!/bin/sh
# test_default_model.sh — the shipped default model through the real server: every example image
# is classified as its file name says, and deit-eval's accuracy on the first 1,000 Fashion-MNIST test
# images is within 0.5 points of the numbers recorded at export (models/fashion-deit/reference.json,
# quoted in the README). Prints "default-model: N passed, N failed".
MODEL=${DEIT_DEFAULT_MODEL:-models/fashion-deit}
DATA=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "default-model: FAIL: $*"; }

log=$(mktemp)
./build/deit-server --model "$MODEL" --host 127.0.0.1 --port 0 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    [ -n "$port" ] && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
if [ -z "$port" ]; then
    cat "$log"
    echo "default-model: 0 passed, 1 failed"
    exit 1
fi
U="http://127.0.0.1:$port"

# examples/<index>_<name>.png: the fused top-1 index must be <index>
for f in examples/*.png; do
    want=$(basename "$f" | cut -d_ -f1)
    got=$(curl -fsS -F "image=@$f" "$U/v1/predict?top_k=1" | sed -n 's/.*"fused":\[{"index":\([0-9]*\).*/\1/p')
    [ "$got" = "$want" ] && ok || ko "$f: fused top-1 is '$got', expected $want"
done

if [ -f "$DATA/t10k-images-idx3-ubyte.gz" ]; then
    res=$(./build/deit-eval --url "$U/v1/predict?top_k=1" --data "$DATA" --limit 1000 --concurrency 4 --json)
    echo "default-model: eval over HTTP: $res"
    if python3 - "$MODEL/reference.json" "$res" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))["accuracy"]
got = json.loads(sys.argv[2])
bad = 0
for ours, theirs in (("class_head", "class_head"), ("distill_head", "dist_head"), ("fused", "fused")):
    diff = abs(got[ours] - 100 * ref[theirs])
    print(f"default-model: {ours}: {got[ours]:.2f}% over HTTP vs {100 * ref[theirs]:.2f}% recorded (diff {diff:.2f})")
    bad += diff > 0.5
bad += got["errors"] != 0
sys.exit(1 if bad else 0)
PY
    then ok; else ko "accuracy over HTTP differs from reference.json by more than 0.5 points"; fi
else
    ko "Fashion-MNIST test set not found in $DATA (package dataset-fashion-mnist)"
fi
echo "default-model: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
