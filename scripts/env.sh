# Sourced by quickstart.sh and test.sh: find Python 3.12, get uv, and sync the locked environment.
# Sets LMSPEC_VENV (default: .venv in the repository) and puts its bin/ first on PATH.
set -euo pipefail

LMSPEC_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"   # keep equal to the pin in pyproject.toml's dev group
PYTHON_WANTED="3.12"

is_wanted_python() {
  "$1" -c "import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)" >/dev/null 2>&1
}

find_python() {
  local candidate
  # pyenv shims answer on PATH even when they cannot run, so every candidate is tried, not just looked up.
  for candidate in "${LMSPEC_PYTHON:-}" python3.12 python3 python; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && is_wanted_python "$candidate" \
      && { command -v "$candidate"; return 0; }
  done
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
      [ -x "$candidate" ] && is_wanted_python "$candidate" && { echo "$candidate"; return 0; }
    done
  fi
  if command -v uv >/dev/null 2>&1; then
    candidate="$(uv python find "$PYTHON_WANTED" 2>/dev/null || true)"
    [ -n "$candidate" ] && is_wanted_python "$candidate" && { echo "$candidate"; return 0; }
  fi
  cat >&2 <<MSG
lmspec needs Python $PYTHON_WANTED (MaxText and its JAX stack are pinned and tested on it), and none was found
on PATH (python3.12, python3), in pyenv, or through uv. Get one with any of:
  uv python install $PYTHON_WANTED         # https://docs.astral.sh/uv/
  pyenv install $PYTHON_WANTED             # https://github.com/pyenv/pyenv
  sudo apt install python$PYTHON_WANTED python$PYTHON_WANTED-venv   # Debian/Ubuntu (deadsnakes PPA on older releases)
  brew install python@$PYTHON_WANTED       # macOS
or point LMSPEC_PYTHON at one: LMSPEC_PYTHON=/path/to/python$PYTHON_WANTED $0
MSG
  return 1
}

find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
  local tools="${XDG_CACHE_HOME:-$HOME/.cache}/lmspec/uv-$UV_VERSION"
  if [ ! -x "$tools/bin/uv" ]; then
    echo "lmspec: installing uv $UV_VERSION into $tools" >&2
    "$1" -m venv "$tools" >&2 && "$tools/bin/pip" install --quiet "uv==$UV_VERSION" >&2
  fi
  echo "$tools/bin/uv"
}

LMSPEC_PYTHON_BIN="$(find_python)"
UV="$(find_uv "$LMSPEC_PYTHON_BIN")"
export LMSPEC_VENV="${LMSPEC_VENV:-$LMSPEC_REPO/.venv}"
export UV_PROJECT_ENVIRONMENT="$LMSPEC_VENV"
echo "lmspec: Python $("$LMSPEC_PYTHON_BIN" -c 'import platform; print(platform.python_version())') ($LMSPEC_PYTHON_BIN); environment $LMSPEC_VENV" >&2
# --frozen installs exactly uv.lock (hash-checked) and never re-resolves; --all-extras brings the engines;
# --compile-bytecode writes .pyc files once at install, so start-up stays fast even where
# PYTHONDONTWRITEBYTECODE is set (it halves `lmspec validate` time on a 2-core machine).
# Sync only when the lock, the project or the interpreter changed since the last sync (a sync with
# --compile-bytecode costs seconds even when nothing changed; a re-run of the quickstart should not).
# The checkout path is part of it: the project is installed editable, pointing at one checkout.
sync_stamp="$LMSPEC_VENV/.lmspec-synced"
sync_wanted="$(cd "$LMSPEC_REPO" && cksum uv.lock pyproject.toml) $LMSPEC_REPO $LMSPEC_PYTHON_BIN $UV_VERSION"
if [ ! -x "$LMSPEC_VENV/bin/python" ] || [ "$(cat "$sync_stamp" 2>/dev/null)" != "$sync_wanted" ]; then
  (cd "$LMSPEC_REPO" && "$UV" sync --frozen --all-extras --compile-bytecode --python "$LMSPEC_PYTHON_BIN" --quiet)
  printf '%s' "$sync_wanted" > "$sync_stamp"
fi
export PATH="$LMSPEC_VENV/bin:$PATH"
