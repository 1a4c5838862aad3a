#!/usr/bin/env bash
# `make verifytypes`: the public API's type completeness, measured the way a
# user's type checker sees it: on cuprum installed from its wheel (not the
# editable checkout) into a throwaway venv with the optional dependencies.
# Prints basedpyright's report and score; fails below the floor.
# Usage: verifytypes.sh UV PYTHON BASEDPYRIGHT FLOOR
set -euo pipefail
uv=$1 py=$2 checker=$3 floor=$4
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wheel=$(cd "$root" && CUPRUM_BUILD_RUST=no PYTHONPATH=build_backend "$py" -c \
  "import cuprum_build as b; print(b.build_wheel('$tmp'))" 2>/dev/null)
"$uv" venv --quiet --python "$py" "$tmp/venv"
"$uv" pip install --quiet --python "$tmp/venv/bin/python" "$tmp/$wheel[trio,prometheus,otel]" pytest
report=$(cd "$tmp" && env PATH="$tmp/venv/bin:$PATH" VIRTUAL_ENV="$tmp/venv" \
  "$checker" --verifytypes cuprum --ignoreexternal || true)
echo "$report" | sed "s#$tmp/venv/lib/python[0-9.]*/site-packages/##"
score=$(echo "$report" | awk '/Type completeness score/ {sub("%", "", $NF); print $NF}')
if [ -z "$score" ]; then
  echo "error: basedpyright printed no type completeness score" >&2
  exit 1
fi
if awk -v s="$score" -v f="$floor" 'BEGIN {exit !(s < f)}'; then
  echo "error: type completeness $score% is below the floor of $floor%" >&2
  exit 1
fi
echo ">> type completeness $score% (floor $floor%)"
