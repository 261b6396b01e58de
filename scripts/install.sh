#!/usr/bin/env bash
# Puts reqtrace on PATH, where the README's examples expect it: builds the release binary and
# installs a copy as PREFIX/bin/reqtrace (default /usr/local, on root's PATH on Debian).
# Idempotent: run again, it replaces that copy with the current build. scripts/demo.sh and
# scripts/test.sh run it; `cargo install --path . --root PREFIX` does the same job.
#   scripts/install.sh [PREFIX]
# REQTRACE_BIN=FILE installs FILE instead of building (the tests use their own build).
# Exits 2 when PREFIX/bin cannot be written (not root): it says so and what to do.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${1:-/usr/local}
bin=${REQTRACE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet --bin reqtrace
  bin=target/release/reqtrace
fi
dir="$prefix/bin"
dest="$dir/reqtrace"
if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
  echo "install: cannot write $dir: run as root, or give a directory you own" \
    "(scripts/install.sh ~/.local); until then run $PWD/$bin" >&2
  exit 2
fi
# A copy renamed into place: a reqtrace running from $dest keeps its own file.
tmp=$(mktemp "$dir/.reqtrace.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cp "$bin" "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$dest"
echo "install: $("$dest" --version) installed as $dest"
case ":$PATH:" in
  *":$dir:"*)
    found=$(command -v reqtrace || true)
    if [ "$found" != "$dest" ]; then
      echo "install: note: $found comes first on PATH; remove it or call $dest" >&2
    fi
    ;;
  *) echo "install: $dir is not on PATH: add it (export PATH=\"$dir:\$PATH\") or call $dest" ;;
esac
