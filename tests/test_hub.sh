#!/usr/bin/env bash
# test_hub.sh — hub models end to end against tests/hub/mock_hub.py on loopback: deit-predict (the
# ASan build when present) fetching hf://ORG/NAME into a huggingface_hub cache, the cache layout byte
# for byte (tests/hub/check_layout.py), warm and offline runs asking nothing, every failure mode
# (corrupt blob, dropped transfer, 401/403/404, hub down, size cap, timeouts, an answer at another
# commit, symlinks planted in the cache), concurrent fetches, deit-server's /readyz "downloading" and
# SIGTERM (also while another download holds the lock), and the built-in default model. Prints
# "hub: N passed, N failed".
set -u
BIN=${DEIT_PREDICT:-build/asan/deit-predict}
[ -x "$BIN" ] || BIN=build/deit-predict
SERVER=${DEIT_SERVER_BIN:-build/deit-server}
BENCH=build/deit-bench
PY=/usr/bin/python3
ROOT=$(pwd)
T=$(mktemp -d)
pass=0; fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "hub: FAIL: $*"; }
check() { if eval "$1"; then ok; else ko "$2"; fi; }
# server_port
. tools/wait_ready.sh

# Nothing from the caller's environment may point at a real hub, cache or token.
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_TOKEN_PATH HF_HUB_OFFLINE HF_HUB_CACHE HUGGINGFACE_HUB_CACHE \
    HF_HOME XDG_CACHE_HOME HF_ENDPOINT DEIT_MODEL HF_HUB_ETAG_TIMEOUT HF_HUB_DOWNLOAD_TIMEOUT

mkdir -p "$T/pickle-only"
cp models/fashion-deit/config.json "$T/pickle-only/"
head -c 1000 /dev/urandom > "$T/pickle-only/pytorch_model.bin"
$PY tests/hub/mock_hub.py --port-file "$T/port" --repo test-org/fashion-deit=models/fashion-deit \
    --repo facebook/deit-reduced=tests/fixtures/models/hf-deit-reduced --repo test-org/pickle-only="$T/pickle-only" \
    --repo timm/deit_tiny_distilled_patch16_224.fb_in1k=models/fashion-deit \
    --repo timm/deit3_base_patch16_224.fb_in22k_ft_in1k=models/fashion-deit \
    --alias old-org/fashion-deit=test-org/fashion-deit &
MOCK=$!
SRV=""; HOLDER=""
cleanup() {
    kill "$MOCK" 2>/dev/null; [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    wait 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
EP="http://127.0.0.1:$(cat "$T/port")"
ctl() { curl -sf "$EP/_mock/$1" >/dev/null; }
stat_of() { curl -sf "$EP/_mock/stats" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["stats"][sys.argv[1]] if sys.argv[1] in d["stats"] else d["repos"][sys.argv[1]])' "$1"; }
reset() { ctl "config?auth=none&corrupt=0&drop=0&slow_ms=0&head_delay_ms=0&entry_commit=&long_redirect=0&fail_status=0&bare_200=0&cdn_error_kb=0&oversize_get=0&cdn_redirect_body=0" && ctl reset; }
IMGS="tests/fixtures/images/camera.png tests/fixtures/images/chelsea.png"
# hub CLI run: cache dir, then deit-predict arguments; output in $out, stderr in $err, status in $rc
run() {
    local cache=$1; shift
    out=$(HF_ENDPOINT=$EP HF_HUB_CACHE=$cache HF_HOME=$T/hfhome "$BIN" --logits "$@" $IMGS 2>"$T/err"); rc=$?
    err=$(cat "$T/err")
}
REF=$("$BIN" --model models/fashion-deit --logits $IMGS)
COMMIT=$(stat_of test-org/fashion-deit)
REPO="$T/c1/models--test-org--fashion-deit"

# ---- a cold fetch: same logits as the local directory, huggingface_hub's layout -----------------
reset
run "$T/c1" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ]' "cold fetch exits 0 (got $rc: $err)"
check '[ "$out" = "$REF" ]' "hf:// logits equal the local directory's"
check '[ "$(stat_of cdn_get)" -eq 1 ] && [ "$(stat_of cdn_bytes)" -eq "$(stat -c %s models/fashion-deit/model.safetensors)" ]' \
    "the blob came from the CDN once, whole"
check '[ "$(stat_of auth_to_cdn)" -eq 0 ]' "no Authorization header sent to the CDN"
check 'printf "%s" "$err" | grep -q "downloading test-org/fashion-deit/model.safetensors"' "one log line per file: $err"
check '$PY tests/hub/check_layout.py "$T/c1" test-org/fashion-deit models/fashion-deit "$COMMIT" main preprocessor_config.json' \
    "cache layout (see check_layout.py)"
check '[ "$(stat_of requests)" -eq 5 ] && [ "$(stat_of head)" -eq 3 ]' "cold fetch: 3 HEAD + config GET + CDN GET (got $(stat_of requests))"
check 'curl -sf "$EP/_mock/stats" | grep -q "\"GET /test-org/fashion-deit/resolve/$COMMIT/config.json\""' \
    "config.json is fetched at the commit its HEAD pinned, not at the branch"

# ---- warm cache: one HEAD (the branch may have moved), no download ----------------------------
reset
run "$T/c1" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ]' "warm run"
check '[ "$(stat_of requests)" -eq 1 ] && [ "$(stat_of head)" -eq 1 ] && [ "$(stat_of get)" -eq 0 ]' \
    "warm cache: one HEAD, nothing downloaded (got $(stat_of requests) requests)"
# ---- offline and pinned: no request at all ------------------------------------------------------
reset
out=$(HF_HUB_OFFLINE=1 HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c1 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(stat_of requests)" -eq 0 ]' "HF_HUB_OFFLINE=1: cache only, 0 requests"
run "$T/c1" --model "hf://test-org/fashion-deit@$COMMIT"
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(stat_of requests)" -eq 0 ]' "a pinned commit in the cache: 0 requests"
run "$T/c1" --model test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(stat_of requests)" -eq 1 ]' "bare ORG/NAME means hf://ORG/NAME"
out=$(HF_HUB_OFFLINE=1 HF_HUB_CACHE=$T/empty "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "not in the cache.*HF_HUB_OFFLINE"' "offline, not cached: exit 2 + message ($out)"
out=$(HF_HUB_OFFLINE=1 HF_HUB_CACHE=$T/empty "$BIN" --model models/no-such-dir $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "is no file or directory here, so it was read as hub id hf://models/no-such-dir"' \
    "a bare ORG/NAME typo of a path says how it was read ($out)"
# a read-only cache works when complete: nothing is written (tree and mtimes unchanged)
before=$(find "$T/c1" -printf '%p %y %T@ %s\n' | sort)
chmod -R a-w "$T/c1"
run "$T/c1" --model hf://test-org/fashion-deit
chmod -R u+w "$T/c1"
check '[ "$rc" -eq 0 ] && [ "$(find "$T/c1" -printf "%p %y %T@ %s\n" | sort)" = "$before" ]' "read-only warm cache: served, nothing written"

# ---- the hub down: the cache with a warning; nothing cached: a clear error ----------------------
out=$(HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_CACHE=$T/c1 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS 2>"$T/err"); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && grep -q "warning: the hub at http://127.0.0.1:9 is unreachable" "$T/err"' \
    "hub down, cached: served with a warning ($(cat "$T/err"))"
out=$(HF_ENDPOINT=http://127.0.0.1:9 HF_HUB_CACHE=$T/c-down "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "not in the cache.*the hub at http://127.0.0.1:9 is unreachable"' "hub down, not cached: exit 2 ($out)"
# a hub that answers but not with the file: an HTTP error other than a missing revision or file (a
# 503, a 429, a 401 after the token changed) or a page without the Hub's headers (a proxy) does not
# stop a load the cache can serve (as huggingface_hub); with nothing cached the error says what the hub did
for st in 503 429; do
    reset; ctl "config?fail_status=$st"
    run "$T/c1" --model hf://test-org/fashion-deit
    check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && printf "%s" "$err" | grep -q "warning: .*answered HTTP $st .*: using the cache"' \
        "hub answering $st, cached: served with a warning ($err)"
    run "$T/c-$st" --model hf://test-org/fashion-deit
    check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "answered HTTP $st for config.json" && ! printf "%s" "$err" | grep -q "using the cache"' \
        "hub answering $st, not cached: exit 2 naming the status ($err)"
done
# a 403 with no token sent (what the Hub answers for a disabled repository): no token is blamed
reset; ctl "config?fail_status=403"
run "$T/c-403" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "access forbidden (HTTP 403: The hub is having trouble), with no token sent" &&
       ! printf "%s" "$err" | grep -q "token in HF_TOKEN"' "a 403 with no token: not blamed on a token ($err)"
reset; ctl "config?auth=private&token=hf_rotated"
run "$T/c1" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && printf "%s" "$err" | grep -q "warning: .*repository not found (HTTP 401).*using the cache"' \
    "a 401 (token changed) with the model cached: served with a warning ($err)"
reset; ctl "config?bare_200=1"
run "$T/c1" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && printf "%s" "$err" | grep -q "does not answer like the Hugging Face Hub.*using the cache"' \
    "a proxy page instead of metadata, cached: served with a warning ($err)"
run "$T/c-bare" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "does not answer like the Hugging Face Hub"' "a proxy page, not cached: exit 2 ($err)"
# an error page while downloading is read up to 64 KiB, not to its end
reset; ctl "config?cdn_error_kb=1024"
run "$T/c-errpage" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "model.safetensors: download answered HTTP 503 with an error page of more than 64 KiB"' \
    "a 1 MiB error page while downloading: cut at 64 KiB ($err)"
# a page three times the size the HEAD announced in place of model.safetensors: refused, and none
# of its bytes kept to resume from (a resume would append the true tail to them: a file of the right
# size, which for a file whose etag is no SHA-256 is all that is checked)
reset; ctl "config?oversize_get=1"
run "$T/c-over" --model hf://test-org/fashion-deit
left=$(find "$T/c-over" -name '*.incomplete' -size +0c | wc -l)
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "model.safetensors: .*more than the [0-9]* bytes it announced" && [ "$left" -eq 0 ]' \
    "more bytes than announced: refused, no partial file kept ($left kept; $err)"
reset
run "$T/c-over" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ]' "... and the next run downloads the true file ($err)"
# a redirect with an endless body: cut at 64 KiB as an error page is, not read until the stall timer
reset; ctl "config?cdn_redirect_body=1"
run "$T/c-redir" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "model.safetensors: a redirect came with a body of more than 64 KiB"' \
    "a redirect with an endless body: refused at 64 KiB ($err)"
# HF_ENDPOINT without a scheme would be plain http to libcurl (a token in clear text): refused
reset
out=$(HF_ENDPOINT=huggingface.co HF_HUB_CACHE=$T/c-scheme "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "HF_ENDPOINT=\"huggingface.co\" does not start with https://"' \
    "HF_ENDPOINT without a scheme: refused ($out)"
# HF_HUB_ETAG_TIMEOUT: a hub that does not answer in time counts as down (libcurl reports 1000..2999 ms
# on a loaded machine; under the HEAD's 3 s either way, so the timeout, not the answer, ended it)
reset; ctl "config?head_delay_ms=3000"
out=$(HF_HUB_ETAG_TIMEOUT=1 HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c1 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS 2>"$T/err"); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && grep -Eq "unreachable.*timed out after [12][0-9]{3} milliseconds" "$T/err"' \
    "HF_HUB_ETAG_TIMEOUT=1 against a 3 s HEAD: cache used ($(cat "$T/err"))"
# under 1 ms would be libcurl's 0, "no limit": refused with a warning, the default applies
reset
out=$(HF_HUB_ETAG_TIMEOUT=0.0004 HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c1 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS 2>"$T/err"); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && grep -q "warning: HF_HUB_ETAG_TIMEOUT=\"0.0004\" ignored (under 1 ms" "$T/err"' \
    "HF_HUB_ETAG_TIMEOUT=0.0004: refused with a warning ($(cat "$T/err"))"

# ---- a repo with preprocessor_config.json, a tag, a revision with slashes, a renamed repo ------
reset
run "$T/c2" --model hf://facebook/deit-reduced@v1.0
ref2=$("$BIN" --model tests/fixtures/models/hf-deit-reduced --logits $IMGS)
check '[ "$rc" -eq 0 ] && [ "$out" = "$ref2" ]' "three-file repo at a tag ($err)"
check '$PY tests/hub/check_layout.py "$T/c2" facebook/deit-reduced tests/fixtures/models/hf-deit-reduced "$(stat_of facebook/deit-reduced)" v1.0' \
    "three-file layout, refs/v1.0"
run "$T/c3" --model "hf://test-org/fashion-deit@refs/pr/1"
check '[ "$rc" -eq 0 ] && [ "$(cat "$T/c3/models--test-org--fashion-deit/refs/refs/pr/1")" = "$COMMIT" ]' "revision refs/pr/1 -> refs/refs/pr/1"
reset
run "$T/c4" --model hf://old-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ -d "$T/c4/models--old-org--fashion-deit/snapshots/$COMMIT" ]' \
    "a renamed repo: relative 307 followed, cached under the name asked ($err)"
check 'curl -sf "$EP/_mock/stats" | grep -q "\"GET /old-org/fashion-deit/resolve/$COMMIT/config.json\"" &&
       ! curl -sf "$EP/_mock/stats" | grep -q "\"GET /[a-z-]*/fashion-deit/resolve/main/config.json\""' \
    "a renamed repo: config.json fetched at the pinned commit, not at the branch"
reset; ctl "config?long_redirect=1"
run "$T/c17" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "config.json: redirect target too long"' "a relative redirect too long to follow is named ($err)"
# an absent optional file answered at another commit: refused, nothing recorded for that commit
OTHER=ffffffffffffffffffffffffffffffffffffffff
reset; ctl "config?entry_commit=$OTHER"
run "$T/c18" --model hf://test-org/fashion-deit
R18="$T/c18/models--test-org--fashion-deit"
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "preprocessor_config.json: asked for commit $COMMIT, the hub answered $OTHER"' \
    "EntryNotFound at another commit: exit 2 ($err)"
check '[ "$(cat "$R18/refs/main")" = "$COMMIT" ] && [ ! -e "$R18/.no_exist/$OTHER" ] && [ ! -e "$R18/refs/$OTHER" ]' \
    "EntryNotFound at another commit: refs/main unchanged, no .no_exist for it"

# ---- integrity, resume, size cap ------------------------------------------------------------------
reset; ctl "config?corrupt=1"
run "$T/c5" --model hf://test-org/fashion-deit
SHA=$(sha256sum models/fashion-deit/model.safetensors | cut -d' ' -f1)
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "model.safetensors: SHA-256 mismatch: the hub says $SHA, the [0-9]* bytes received hash to [0-9a-f]\{64\}"' \
    "corrupt blob: exit 2, both hashes named ($err)"
check '[ -z "$(ls "$T/c5/models--test-org--fashion-deit/blobs" | grep -v "^[0-9a-f]\{40\}$")" ] && [ ! -e "$T/c5/models--test-org--fashion-deit/snapshots/$COMMIT/model.safetensors" ]' \
    "corrupt blob: nothing kept (no blob, no .incomplete, no link)"
reset; ctl "config?drop=2"
run "$T/c5" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(stat_of cdn_range)" -eq 2 ]' "two dropped transfers resumed with Range (got $(stat_of cdn_range); $err)"
check '[ "$(stat_of cdn_bytes)" -eq "$(stat -c %s models/fashion-deit/model.safetensors)" ]' "resumed: no byte fetched twice"
check 'printf "%s" "$err" | grep -q "transfer dropped at byte"' "a dropped transfer is reported"
# a partial blob left by an earlier run is resumed, not restarted
reset
mkdir -p "$T/c6/models--test-org--fashion-deit/blobs"
head -c 1000000 models/fashion-deit/model.safetensors > "$T/c6/models--test-org--fashion-deit/blobs/$SHA.incomplete"
run "$T/c6" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(stat_of cdn_bytes)" -eq $(( $(stat -c %s models/fashion-deit/model.safetensors) - 1000000 )) ]' \
    "an earlier .incomplete is resumed from byte 1000000"
check '$PY tests/hub/check_layout.py "$T/c6" test-org/fashion-deit models/fashion-deit "$COMMIT" main preprocessor_config.json >/dev/null' \
    "layout after a resumed download"
# symlinks planted in a shared cache: a blob link is replaced (never reused), a partial one refused;
# the file they point at is untouched either way
printf precious > "$T/victim"
mkdir -p "$T/c19/models--test-org--fashion-deit/blobs" "$T/c20/models--test-org--fashion-deit/blobs"
ln -s "$T/victim" "$T/c19/models--test-org--fashion-deit/blobs/$SHA"
reset
run "$T/c19" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ -f "$T/c19/models--test-org--fashion-deit/blobs/$SHA" ] && [ ! -L "$T/c19/models--test-org--fashion-deit/blobs/$SHA" ]' \
    "a symlink planted as the blob: fetched again, replaced ($err)"
check 'printf "%s" "$err" | grep -q "blobs/$SHA is a symbolic link, not a blob"' "a planted blob symlink is reported ($err)"
ln -s "$T/victim" "$T/c20/models--test-org--fashion-deit/blobs/$SHA.incomplete"
run "$T/c20" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "blobs/$SHA.incomplete is a symbolic link: refusing to write through it"' \
    "a symlink planted as the partial blob: refused, named ($err)"
check '[ "$(cat "$T/victim")" = precious ]' "nothing written through planted symlinks"
# HF_HUB_DOWNLOAD_TIMEOUT: a CDN that stalls is given up on after the resumes, the part kept
reset; ctl "config?slow_ms=4000"
out=$(HF_HUB_DOWNLOAD_TIMEOUT=1 HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c16 "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "model.safetensors: download failed after 6 attempts at byte [1-9][0-9]* of 2172024: .*" && [ -s "$T/c16/models--test-org--fashion-deit/blobs/$SHA.incomplete" ]' \
    "stalled CDN: HF_HUB_DOWNLOAD_TIMEOUT, 5 resumes, then exit 2 with the part kept ($out)"
ctl "config?slow_ms=0"
reset
out=$(HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c7 "$BIN" --max-model-mb 1 --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "model.safetensors is 2.1 MB, more than the model size limit of 1 MB" && [ "$(stat_of cdn_get)" -eq 0 ]' \
    "--max-model-mb: refused before downloading ($out)"

# ---- refusals: private, gated, wrong name, wrong revision, no safetensors ----------------------
reset; ctl "config?auth=private&token=hf_secret"
run "$T/c8" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "repository not found (HTTP 401).*needs a token in HF_TOKEN"' "401 without a token: exit 2 ($err)"
out=$(HF_TOKEN=hf_wrong HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c8 "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "the token in HF_TOKEN / \$HF_HOME/token cannot read it"' "401 with a bad token ($out)"
out=$(HF_TOKEN=hf_secret HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c8 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS 2>/dev/null); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(stat_of auth_to_cdn)" -eq 0 ]' "HF_TOKEN: fetched; the token stays off the CDN"
mkdir -p "$T/hfhome"; printf 'hf_secret\n' > "$T/hfhome/token"
run "$T/c9" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ]' "the token from \$HF_HOME/token ($err)"
rm -f "$T/hfhome/token"
# a token with surrounding whitespace is trimmed (huggingface_hub's _clean_token); one with a space
# inside cannot be sent: a warning names HF_TOKEN instead of a silent 401
out=$(HF_TOKEN=$'  hf_secret\r\n' HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c21 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS 2>/dev/null); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ]' "HF_TOKEN with surrounding whitespace: trimmed, fetched"
out=$(HF_TOKEN="hf_ secret" HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c21b "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "warning: HF_TOKEN ignored, no token is sent: .* space"' "HF_TOKEN with a space inside: warned ($out)"
ctl "config?auth=gated"
run "$T/c10" --model hf://test-org/fashion-deit
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "is a gated model (HTTP 401.*accept its conditions at $EP/test-org/fashion-deit"' "gated repo ($err)"
out=$(HF_TOKEN=hf_other HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c10 "$BIN" --model hf://test-org/fashion-deit $IMGS 2>&1); rc=$?
check '[ "$rc" -eq 2 ] && printf "%s" "$out" | grep -q "gated model (HTTP 403.*the current token has no access yet"' "gated repo, token without access ($out)"
reset
run "$T/c11" --model hf://test-org/no-such-model
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "test-org/no-such-model: repository not found (HTTP 401): check the id"' "missing repo: exit 2 ($err)"
check '[ ! -e "$T/c11/models--test-org--no-such-model/snapshots" ]' "missing repo: no snapshot"
run "$T/c11" --model hf://test-org/fashion-deit@no-such-branch
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "has no revision \"no-such-branch\" (HTTP 404)"' "missing revision: exit 2 ($err)"
reset
run "$T/c11" --model hf://test-org/pickle-only
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "has no model.safetensors (HTTP 404).*pytorch_model.bin pickles are never loaded"' "pickle-only repo refused ($err)"
check '! curl -sf "$EP/_mock/stats" | grep -q pytorch_model.bin' "pytorch_model.bin never requested"
reset
for bad in "hf://a--b/c" "hf://org/../x" "hf://org/na me" "hf://org/name@../../etc" "hf://org/name@"; do
    run "$T/c11" --model "$bad"
    check '[ "$rc" -eq 2 ] && [ -n "$err" ]' "bad id $bad refused"
done
check '[ "$(stat_of requests)" -eq 0 ]' "bad ids make no request (got $(stat_of requests))"

# ---- concurrent loads of one model: one download, three good answers ----------------------------
reset; ctl "config?slow_ms=20"
for i in 1 2 3; do
    (HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c12 "$BIN" --logits --model hf://test-org/fashion-deit $IMGS > "$T/conc$i" 2>&1; echo $? > "$T/conc$i.rc") &
done
wait_for() { for _ in $(seq 600); do eval "$1" && return 0; sleep 0.1; done; return 1; }
wait_for '[ -s "$T/conc1.rc" ] && [ -s "$T/conc2.rc" ] && [ -s "$T/conc3.rc" ]'
for i in 1 2 3; do
    check '[ "$(cat "$T/conc$i.rc")" = 0 ] && [ "$(grep -v "^deit-predict:" "$T/conc$i")" = "$REF" ]' "concurrent load $i"
done
check '[ "$(stat_of cdn_get)" -eq 1 ]' "concurrent loads: the blob fetched once (got $(stat_of cdn_get))"
check '$PY tests/hub/check_layout.py "$T/c12" test-org/fashion-deit models/fashion-deit "$COMMIT" main preprocessor_config.json >/dev/null' \
    "layout after concurrent loads"

# ---- deit-bench takes hub ids too ---------------------------------------------------------------
out=$(HF_HUB_OFFLINE=1 HF_HUB_CACHE=$T/c1 "$BENCH" --model hf://test-org/fashion-deit --iters 1 --warmup 0 --min-seconds 0 --json 2>&1)
check 'printf "%s" "$out" | grep -q "\"model\":\"fashion-deit\""' "deit-bench --model hf://… ($out)"

# ---- deit-server: /readyz says downloading, then serves under NAME ------------------------------
reset; ctl "config?slow_ms=100"
HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c13 "$SERVER" --port 0 --model hf://test-org/fashion-deit > "$T/srv.log" 2>&1 &
SRV=$!
PORT=$(server_port "$T/srv.log" "$SRV" 60)
wait_for '[ "$(stat_of cdn_get)" -ge 1 ]'
ready=$(curl -s "http://127.0.0.1:$PORT/readyz")
check '[ "$ready" = "{\"status\":\"downloading\"}" ]' "/readyz while downloading: $ready"
ctl "config?slow_ms=0"
wait_for 'curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null'
check 'curl -sf "http://127.0.0.1:$PORT/v2/models/fashion-deit" | grep -q "fashion-deit"' "served under the hub NAME"
check 'grep -q "downloading test-org/fashion-deit/model.safetensors" "$T/srv.log" && grep -q "is commit $COMMIT" "$T/srv.log"' \
    "server log: a line per file and the commit"
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=""

# SIGTERM during a download: the server stops at once (exit 0), the partial blob stays for resuming
reset; ctl "config?slow_ms=200"
SHA_DIR="$T/c14/models--test-org--fashion-deit/blobs"
HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c14 "$SERVER" --port 0 --log-format json --model hf://test-org/fashion-deit > "$T/srv3.log" 2>&1 &
SRV=$!
wait_for '[ "$(stat_of cdn_bytes)" -ge 131072 ]'
kill -TERM "$SRV"; wait "$SRV"; rc=$?; SRV=""
check '[ "$rc" -eq 0 ] && grep -q "\"event\": *\"stopped during the model download" "$T/srv3.log"' "SIGTERM while downloading: exit 0 ($rc: $(tail -n 2 "$T/srv3.log"))"
check '[ -s "$SHA_DIR/$SHA.incomplete" ] && [ ! -e "$SHA_DIR/$SHA" ]' "SIGTERM while downloading: the partial blob is kept, not published"
check 'grep -q "{\"event\": *\"downloading test-org/fashion-deit/model.safetensors" "$T/srv3.log"' "JSON log: one event per file"
ctl "config?slow_ms=0"

# SIGTERM while the hub has not answered a HEAD (HF_HUB_ETAG_TIMEOUT 30 s): the server stops at once
reset; ctl "config?head_delay_ms=20000"
HF_HUB_ETAG_TIMEOUT=30 HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c23 "$SERVER" --port 0 --log-format json --model hf://test-org/fashion-deit > "$T/srv5.log" 2>&1 &
SRV=$!
wait_for '[ "$(stat_of head)" -ge 1 ]'
t0=$(date +%s)
kill -TERM "$SRV"
wait_for '! kill -0 "$SRV" 2>/dev/null'
gone=$?
[ "$gone" -eq 0 ] || kill -KILL "$SRV"
wait "$SRV"; rc=$?; SRV=""; secs=$(( $(date +%s) - t0 ))
check '[ "$gone" -eq 0 ] && [ "$rc" -eq 0 ] && [ "$secs" -le 5 ] && grep -q "\"event\": *\"stopped during the model download: .*config.json: cancelled" "$T/srv5.log"' \
    "SIGTERM while a HEAD waits for the hub: exit 0 in ${secs} s, not blamed on the hub ($rc: $(tail -n 2 "$T/srv5.log"))"
ctl "config?head_delay_ms=0"

# SIGTERM while another download holds the blob's lock: the wait is logged and ends at once
reset
LOCK="$T/c22/.locks/models--test-org--fashion-deit/$SHA.lock"
mkdir -p "$(dirname "$LOCK")"
$PY -c 'import fcntl, sys, time
f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(600)' "$LOCK" "$T/held" &
HOLDER=$!
wait_for '[ -e "$T/held" ]'
HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c22 "$SERVER" --port 0 --log-format json --model hf://test-org/fashion-deit > "$T/srv4.log" 2>&1 &
SRV=$!
wait_for 'grep -qs "waiting for $LOCK" "$T/srv4.log"'
kill -TERM "$SRV"
wait_for '! kill -0 "$SRV" 2>/dev/null' # the lock is still held: only the cancellation can end the wait
gone=$?
[ "$gone" -eq 0 ] || kill -KILL "$SRV"
wait "$SRV"; rc=$?; SRV=""
check '[ "$gone" -eq 0 ] && [ "$rc" -eq 0 ] && grep -q "\"event\": *\"stopped during the model download: model.safetensors: download cancelled while waiting for $LOCK" "$T/srv4.log"' \
    "SIGTERM while waiting for another download's lock: exit 0 ($rc: $(tail -n 3 "$T/srv4.log"))"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=""

# the CLI's progress bar, on a terminal (script(1) gives it one)
if command -v script >/dev/null; then
    script -qec "HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c15 $BIN --model hf://test-org/fashion-deit $IMGS" "$T/tty.log" >/dev/null 2>&1
    check 'grep -q "model.safetensors *\[#\{30\}\] 100.0%" "$T/tty.log"' "progress bar on a terminal"
fi

# ---- timm's spellings: hf-hub:/hf_hub: mean hf://, a timm model name (ARCH, ARCH.TAG) hf://timm/ARCH.TAG --
reset
run "$T/c23" --model hf-hub:test-org/fashion-deit
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ -d "$T/c23/models--test-org--fashion-deit/snapshots/$COMMIT" ]' \
    "hf-hub:ORG/NAME means hf://ORG/NAME ($err)"
run "$T/c23" --model hf_hub:test-org/fashion-deit@v1.0
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ] && [ "$(cat "$T/c23/models--test-org--fashion-deit/refs/v1.0")" = "$COMMIT" ]' \
    "hf_hub:ORG/NAME@REV, timm's older spelling ($err)"
TIMM=deit_tiny_distilled_patch16_224
run "$T/c24" --model "hf://timm/$TIMM.fb_in1k"
REF_TIMM=$out
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ]' "hf://timm/ARCH.TAG ($err)"
reset
run "$T/c25" --model "$TIMM"
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF_TIMM" ] && [ "$(ls "$T/c25")" = "models--timm--$TIMM.fb_in1k" ]' \
    "a timm name, ARCH: hf://timm/ARCH.fb_in1k, same output, cached as models--timm--ARCH.fb_in1k ($err)"
check 'printf "%s" "$err" | grep -q "^deit-predict: $TIMM is timm.s model name for hf://timm/$TIMM.fb_in1k$"' \
    "the hub id a timm name was read as is printed ($err)"
run "$T/c25" --model "$TIMM.fb_in1k"
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF_TIMM" ] && [ "$(ls "$T/c25")" = "models--timm--$TIMM.fb_in1k" ]' \
    "a timm name, ARCH.TAG: same output, same cache folder ($err)"
# a deprecated timm name: the model of its current name (same output, same cache folder), with a warning
DEP=deit3_base_patch16_224
run "$T/c25d" --model "$DEP.fb_in22k_ft_in1k"
REF_DEP=$out
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF" ]' "a timm name, ARCH.TAG, of a deprecated name's target ($err)"
run "$T/c25d" --model "${DEP}_in21ft1k"
check '[ "$rc" -eq 0 ] && [ "$out" = "$REF_DEP" ] && [ "$(ls "$T/c25d")" = "models--timm--$DEP.fb_in22k_ft_in1k" ]' \
    "a deprecated timm name: its current ARCH.TAG, same output, same cache folder ($err)"
check 'printf "%s" "$err" | grep -q "^deit-predict: warning: ${DEP}_in21ft1k is timm.s deprecated model name for hf://timm/$DEP.fb_in22k_ft_in1k (timm.s current name: $DEP.fb_in22k_ft_in1k)$"' \
    "the current name a deprecated timm name was read as is printed ($err)"
run "$T/c25" --model vit_base_patch16_224
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k: repository not found.*so it was read as timm.s model name for hub id hf://timm/vit_base_patch16_224.augreg2_in21k_ft_in1k)"' \
    "a timm name the hub lacks: the error says how it was read ($err)"
# a directory named like a timm architecture wins, and nothing is asked
reset
mkdir -p "$T/wd" && cp -r tests/fixtures/models/hf-deit-reduced "$T/wd/$TIMM"
AIMGS="$ROOT/tests/fixtures/images/camera.png $ROOT/tests/fixtures/images/chelsea.png"
local_ref=$(cd "$T/wd" && "$ROOT/$BIN" --logits --model "./$TIMM" $AIMGS 2>&1)
out=$(cd "$T/wd" && HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c26 "$ROOT/$BIN" --logits --model "$TIMM" $AIMGS 2>&1); rc=$?
check '[ "$rc" -eq 0 ] && [ "$out" = "$local_ref" ] && [ "$(stat_of requests)" -eq 0 ] && [ ! -e "$T/c26" ]' \
    "a local directory named like a timm architecture wins ($out)"
# what is not a timm name this engine maps stays a path: no request, the file named
run "$T/c27" --model weights.safetensors
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "cannot load model: weights.safetensors: No such file or directory$"' \
    "a missing weights.safetensors is still a path error ($err)"
run "$T/c27" --model vit_base_patch16_clip_224
check '[ "$rc" -eq 2 ] && printf "%s" "$err" | grep -q "vit_base_patch16_clip_224: no such file or directory; if it is a timm model name, write its hub id: hf://timm/vit_base_patch16_clip_224.TAG"' \
    "a timm-like name not in the table: a path error naming the hf://timm/ form ($err)"
check '[ "$(stat_of requests)" -eq 0 ] && [ ! -e "$T/c27" ]' "paths make no request"
# deit-server: the same spellings, served under the repo's NAME, the hub id in the log
for spec in "$TIMM" "hf-hub:test-org/fashion-deit"; do
    case $spec in hf-hub:*) want=fashion-deit ;; *) want=$TIMM.fb_in1k ;; esac
    # a log per server (server_port)
    log5=$T/srv5-$want.log
    HF_ENDPOINT=$EP HF_HUB_CACHE=$T/c28 "$SERVER" --port 0 --model "$spec" > "$log5" 2>&1 &
    SRV=$!
    PORT=$(server_port "$log5" "$SRV" 60)
    # a loaded machine (CI beside other jobs) may take a while to fetch and load: wait for the
    # answer itself, and name what the server said when it never comes
    wait_for 'curl -sf "http://127.0.0.1:$PORT/v2/models/$want" | grep -qs "\"$want\""'
    check 'curl -sf "http://127.0.0.1:$PORT/v2/models/$want" | grep -q "\"$want\""' \
        "deit-server --model $spec serves $want (port $PORT; log: $(tail -n 5 "$log5"))"
    case $spec in hf-hub:*) ;; *)
        check 'grep -q "$TIMM is timm.s model name for hf://timm/$TIMM.fb_in1k" "$log5" && grep -q "model timm/$TIMM.fb_in1k@main is commit" "$log5"' \
            "server log: the hub id a timm name was read as ($(cat "$log5"))" ;;
    esac
    kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
done

# ---- the built-in model: no arguments, from any directory ----------------------------------------
(cd "$T" && exec "$ROOT/$SERVER" --port 0 > "$T/srv2.log" 2>&1) &
SRV=$!
wait_for 'grep -qs "ready: model fashion-deit" "$T/srv2.log"'
PORT=$(server_port "$T/srv2.log" "$SRV" 60)
got=$(curl -sf -F "file=@tests/fixtures/images/camera.png" "http://127.0.0.1:$PORT/predictions/fashion-deit")
top=$(printf '%s\n' "$REF" | head -n 1 | sed 's/.*"fused":\[{"index":[0-9]*,"label":"\([^"]*\)".*/\1/')
check 'printf "%s" "$got" | grep -q "^{\"$top\":"' "deit-server with no --model serves the built-in model (top $top: $got)"
kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=""
out=$(cd "$T" && "$ROOT/$BIN" --logits "$ROOT/tests/fixtures/images/camera.png" | sed 's/"image":"[^"]*"//')
check '[ "$out" = "$(printf "%s\n" "$REF" | head -n 1 | sed "s/\"image\":\"[^\"]*\"//")" ]' "deit-predict with no --model: the built-in model, same logits"

echo "hub: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
