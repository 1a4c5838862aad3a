#!/usr/bin/env bash
# `make test-pythons`: the test suite on every CPython 3.11+ found
# (devtools/pythons.sh), one venv each under .venvs/, each with the
# development tools and the Rust extension (maturin develop --release).
# pytest gets PYTEST_ARGS (default: the whole suite). With ONLY_OLDER=1 the
# newest Python is left out (CI runs the whole matrix on it with `make test`).
# Usage: test-pythons.sh UV
set -euo pipefail
uv=$1
cd "$(dirname "$0")/.."
mapfile -t pythons < <(devtools/pythons.sh)
if [ "${#pythons[@]}" -eq 0 ]; then
  echo "error: no CPython 3.11+ found under pyenv's versions or on PATH" >&2
  exit 1
fi
if [ "${ONLY_OLDER:-0}" = 1 ]; then unset 'pythons[-1]'; fi
eval "args=(${PYTEST_ARGS:-tests})"  # shell words, so quoted -m/-k expressions survive
status=0 ran=()
for entry in "${pythons[@]}"; do
  minor=${entry%% *} python=${entry#* }
  venv=".venvs/py$minor"
  echo
  echo "=== CPython $("$python" -c 'import platform; print(platform.python_version())') ($python)"
  if [ ! -x "$venv/bin/python" ]; then
    "$uv" venv --quiet --python "$python" "$venv"
  fi
  "$uv" pip install --quiet --python "$venv/bin/python" --group dev anyio
  VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
    "$venv/bin/maturin" develop --release --uv --quiet >/dev/null
  if VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
    ./.ci/pytest "$venv/bin/python" "${args[@]}"; then
    ran+=("$minor: passed")
  else
    ran+=("$minor: FAILED")
    status=1
  fi
done
echo
echo "=== test-pythons (pytest ${args[*]})"
printf '    %s\n' "${ran[@]}"
exit "$status"
