#!/bin/sh
# tests/deploy/yamllint.sh — lints every YAML file under deploy/ with deploy/.yamllint; errors fail.
set -eu
cd "$(dirname "$0")/../.."
command -v yamllint >/dev/null || { echo "FAIL: yamllint not installed (apt-get install yamllint)" >&2; exit 1; }
files=$(find deploy -name '*.yaml' -o -name '*.yml' | sort)
[ -n "$files" ] || { echo "FAIL: no YAML under deploy/" >&2; exit 1; }
# shellcheck disable=SC2086
yamllint -c deploy/.yamllint -f parsable $files
echo "ok - yamllint: $(echo "$files" | wc -l) files in deploy/"
