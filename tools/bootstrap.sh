#!/usr/bin/env bash
# Create (or reuse) the project virtualenv in .venv with Python 3.10 and install neurochip.
#
#   bash tools/bootstrap.sh         # what `make demo` needs: neurochip and its runtime dependencies
#   bash tools/bootstrap.sh test    # what `make test` needs: also the [test] extras (pytest, hypothesis,
#                                   # ray, nest-simulator: NEST alone is most of the extra install time)
#
# Stamps: .venv/.neurochip-installed (runtime) and .venv/.neurochip-installed-test (with the test extras);
# both are redone when pyproject.toml is newer. pip prefers wheels (--prefer-binary: no source builds when
# a wheel of an acceptable version exists) and skips byte-compiling every installed file (--no-compile):
# Python compiles only the modules a run imports, on first import.
# Python 3.10 is required by lava-nc (>=3.10,<3.11). It is looked for, in order, as $PYTHON,
# python3.10 on PATH, pyenv's 3.10.x, ~/.pyenv/versions/3.10*, /usr/local/bin and /usr/bin.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
extras="${1:-}"
case "$extras" in
  "") stamp="$venv/.neurochip-installed"; target="$here" ;;
  test) stamp="$venv/.neurochip-installed-test"; target="$here[test]" ;;
  *) echo "bootstrap: unknown extras '$extras' (use nothing or 'test')" >&2; exit 2 ;;
esac

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

fresh() { [ -f "$1" ] && [ "$1" -nt "$here/pyproject.toml" ]; }
if is310 "$venv/bin/python" && { fresh "$stamp" || { [ -z "$extras" ] && fresh "$venv/.neurochip-installed-test"; }; }; then
  exit 0
fi
py="$(find_python)" || {
  echo "neurochip needs Python 3.10 (lava-nc supports only 3.10). Install it (e.g. 'pyenv install 3.10') or set PYTHON=/path/to/python3.10." >&2
  exit 1
}
echo "bootstrap: using $py" >&2
[ -x "$venv/bin/python" ] && is310 "$venv/bin/python" || { rm -rf "$venv"; "$py" -m venv "$venv"; }
"$venv/bin/python" -m pip install --quiet --prefer-binary --upgrade pip >&2
"$venv/bin/python" -m pip install --quiet --prefer-binary --no-compile -e "$target" >&2
touch "$stamp"
[ -n "$extras" ] && touch "$venv/.neurochip-installed"  # the test install includes the runtime one
exit 0
