#!/usr/bin/env bash
# The demo: builds reqtrace and traces a small fixture program that makes the calls of the
# .phpp incident (a failing open of index.phpp among normal ones), first as strace-like text,
# then as JSON Lines filtered with jq. Cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release --examples --bins
bin=target/release/reqtrace
dir=$(mktemp -d /tmp/reqtrace-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT

echo "== reqtrace run --failed -- fx_fileops (failed file syscalls only)"
"$bin" run --failed --color auto -o "$dir/trace.txt" -- target/release/examples/fx_fileops "$dir" >/dev/null
grep -v '/lib\|ld.so\|glibc-hwcaps\|/tls\|x86_64' "$dir/trace.txt" || true

echo
echo "== the same as JSON Lines, through jq: failed opens and stats by path"
"$bin" run --json --failed -o "$dir/trace.jsonl" -- target/release/examples/fx_fileops "$dir" >/dev/null
if command -v jq >/dev/null 2>&1; then
  jq -r 'select(.type=="syscall" and (.path // "" | startswith("'"$dir"'")))
         | "\(.syscall) \(.path) \(.errno)"' "$dir/trace.jsonl"
else
  grep "$dir" "$dir/trace.jsonl"
fi
