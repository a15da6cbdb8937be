#!/bin/sh
# smoke.sh [URL] — curl-only smoke test against any running deit-server (default http://127.0.0.1:8080):
# health, readiness, metadata, one prediction (raw, TorchServe and multipart) and error cases.
# Image: $SMOKE_IMAGE or tests/fixtures/images/chelsea.png next to this script. Set DEIT_API_KEY if the
# server needs one. Prints PASS/FAIL per check and "smoke: N passed, N failed"; exits 1 on a failure.
URL=${1:-http://127.0.0.1:8080}
URL=${URL%/}
HERE=$(cd "$(dirname "$0")" && pwd)
IMG=${SMOKE_IMAGE:-$HERE/fixtures/images/chelsea.png}
AUTH=""
[ -n "${DEIT_API_KEY:-}" ] && AUTH="Authorization: Bearer $DEIT_API_KEY"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
passed=0; failed=0

# check NAME EXPECTED_STATUS GREP_PATTERN CURL_ARGS... : runs curl, checks status and body
check() {
    name=$1; want=$2; pattern=$3; shift 3
    code=$(curl -sS -o "$TMP/body" -w '%{http_code}' --max-time 60 ${AUTH:+-H "$AUTH"} "$@" 2>"$TMP/err")
    if [ "$code" = "$want" ] && { [ -z "$pattern" ] || grep -q -- "$pattern" "$TMP/body"; }; then
        passed=$((passed + 1)); echo "PASS $name"
    else
        failed=$((failed + 1)); echo "FAIL $name: HTTP $code (wanted $want${pattern:+, body matching $pattern})"
        head -c 300 "$TMP/body" "$TMP/err" 2>/dev/null; echo
    fi
}

check "GET /healthz" 200 '"ok"' "$URL/healthz"
check "GET /readyz" 200 '"ready"' "$URL/readyz"
check "GET /v2/health/ready" 200 '' "$URL/v2/health/ready"
check "GET /v1/models" 200 '"classes"' "$URL/v1/models"
MODEL=$(sed -n 's/.*"name":"\([^"]*\)".*/\1/p' "$TMP/body" | head -n 1)
[ -n "$MODEL" ] || MODEL=unknown
check "GET /v2/models/$MODEL" 200 '"outputs"' "$URL/v2/models/$MODEL"
check "GET /metrics" 200 'deit_requests_total' "$URL/metrics"
check "POST /v1/predict (raw)" 200 '"fused"' --data-binary "@$IMG" -H 'Content-Type: application/octet-stream' "$URL/v1/predict?top_k=3"
check "POST /v1/predict (multipart, 2 images)" 200 '"heads_agree"' -F "image=@$IMG" -F "image=@$IMG" "$URL/v1/predict"
check "PUT /predictions/$MODEL (curl -T)" 200 '' -T "$IMG" "$URL/predictions/$MODEL"
check "error: wrong Content-Type is 415" 415 '"error"' --data-binary 'hello' -H 'Content-Type: text/plain' "$URL/v1/predict"
check "error: undecodable image is 400" 400 '"error"' --data-binary 'x' -H 'Content-Type: image/png' "$URL/v1/predict"
check "error: GET /v1/predict is 405" 405 '"error"' "$URL/v1/predict"
check "error: unknown path is 404" 404 '"error"' "$URL/no/such/path"
check "GET /healthz after errors" 200 '"ok"' "$URL/healthz"

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
