#!/usr/bin/env bash
# Print every CPython 3.11+ to test on, oldest first, one "3.X /path/to/python"
# per line: the newest patch release of each minor version under
# $(pyenv root)/versions, else the python3.X found on PATH.
set -euo pipefail
root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
declare -A found=()
if [ -d "$root/versions" ]; then
  while read -r version; do
    minor=${version%.*}
    if [ "${minor#3.}" -ge 11 ] && [ -x "$root/versions/$version/bin/python3" ]; then
      found[$minor]="$root/versions/$version/bin/python3"  # sorted: the last patch wins
    fi
  done < <(ls -1 "$root/versions" | grep -E '^3\.[0-9]+\.[0-9]+$' | sort -V)
fi
if [ "${#found[@]}" -eq 0 ]; then
  for n in $(seq 11 20); do
    if command -v "python3.$n" >/dev/null; then found[3.$n]=$(command -v "python3.$n"); fi
  done
fi
for minor in $(printf '%s\n' "${!found[@]}" | sort -V); do
  echo "$minor ${found[$minor]}"
done
