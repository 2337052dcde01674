#!/usr/bin/env bash
# Create (or reuse) the project virtualenv in .venv with Python 3.10 and install neurochip + test deps.
# Python 3.10 is required by lava-nc (>=3.10,<3.11). It is looked for, in order, as $PYTHON,
# python3.10 on PATH, pyenv's 3.10.x, ~/.pyenv/versions/3.10*, /usr/local/bin and /usr/bin.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
stamp="$venv/.neurochip-installed"

is310() { [ -x "$1" ] && "$1" -c 'import sys; raise SystemExit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python() {
  local c
  for c in "${PYTHON:-}" "$(command -v python3.10 2>/dev/null || true)"; do
    [ -n "$c" ] && is310 "$c" && { echo "$c"; return 0; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -t. -k3 -n -r); do
      c="$(pyenv root)/versions/$v/bin/python3.10"; is310 "$c" && { echo "$c"; return 0; }
    done
  fi
  for c in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 \
           /usr/local/bin/python3.10 /usr/bin/python3.10 /opt/python/3.10*/bin/python3.10; do
    is310 "$c" && { echo "$c"; return 0; }
  done
  return 1
}

if [ -f "$stamp" ] && [ "$stamp" -nt "$here/pyproject.toml" ] && is310 "$venv/bin/python"; then
  exit 0
fi
py="$(find_python)" || {
  echo "neurochip needs Python 3.10 (lava-nc supports only 3.10). Install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10." >&2
  exit 1
}
echo "bootstrap: using $py" >&2
[ -x "$venv/bin/python" ] && is310 "$venv/bin/python" || { rm -rf "$venv"; "$py" -m venv "$venv"; }
"$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel >&2
"$venv/bin/python" -m pip install --quiet -e "$here[test]" >&2
touch "$stamp"
