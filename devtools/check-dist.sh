#!/usr/bin/env bash
# `make dist`: build what a release ships into dist/ and prove it installs.
#   1. the sdist (build_backend/cuprum_build.py -> hatchling);
#   2. from that sdist, the cp311-abi3 wheel with the Rust engine (maturin,
#      tagged manylinux for this machine's glibc; release wheels come from the
#      manylinux containers of .github/workflows/wheels.yml);
#   3. from that sdist, the pure-Python wheel (CUPRUM_BUILD_RUST=no);
#   4. `twine check --strict` on all three;
#   5. each wheel installed in a fresh venv of every given interpreter with no
#      Rust toolchain on PATH and no source builds allowed, then run.
# Usage: check-dist.sh UV TWINE BUILDER_PYTHON PYTHON...  (the wheels are installed on each PYTHON)
set -euo pipefail
uv=$1 twine=$2; shift 2
builder=$1; shift
cd "$(dirname "$0")/.."
rm -rf dist
"$uv" build --quiet --python "$builder" --sdist --out-dir dist
sdist=$(ls dist/cuprum-*.tar.gz)
MATURIN_PEP517_ARGS="--compatibility manylinux_2_34" \
  "$uv" build --quiet --python "$builder" --wheel --out-dir dist "$sdist"
CUPRUM_BUILD_RUST=no "$uv" build --quiet --python "$builder" --wheel --out-dir dist "$sdist"
"$twine" check --strict dist/*
echo ">> built:"; ls -l dist | awk 'NR > 1 {print "   ", $5, $NF}'

smoke='
import anyio
from cuprum import ECHO, WC, sh

async def main() -> None:
    out = await (sh.make(ECHO)("one", "two") | sh.make(WC)("-w")).run()
    assert out.stdout.split() == ["2"], out
    print("   pipeline echo | wc -w ->", out.stdout.strip())

anyio.run(main)
'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for py in "$@"; do
  for wheel in dist/*.whl; do
    case "$wheel" in *-abi3-*) expect=rust ;; *) expect=python ;; esac
    venv="$tmp/venv"
    rm -rf "$venv"
    "$uv" venv --quiet --python "$py" "$venv"
    # No cargo on PATH and --no-build: the wheel must install as it is.
    env PATH=/usr/bin:/bin "$uv" pip install --quiet --no-build --python "$venv/bin/python" "$wheel"
    version=$("$venv/bin/python" -c 'import platform; print(platform.python_version())')
    echo ">> $(basename "$wheel") on CPython $version (expects the $expect backend)"
    (cd "$tmp" && env -i PATH=/usr/bin:/bin "$venv/bin/python" -m cuprum info | sed 's/^/   /')
    got=$(cd "$tmp" && env -i PATH=/usr/bin:/bin "$venv/bin/python" -m cuprum info \
      | awk '/^stream backend/ {print $NF}')
    if [ "$got" != "$expect" ]; then
      echo "error: $(basename "$wheel") runs on the '$got' backend, expected '$expect'" >&2
      exit 1
    fi
    (cd "$tmp" && env -i PATH=/usr/bin:/bin "$venv/bin/python" -c "$smoke")
  done
done
echo ">> dist/ is ready"
