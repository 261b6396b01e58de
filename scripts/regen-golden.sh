#!/usr/bin/env bash
# Rewrites every tests/fixtures/*/expected.jsonl and expected.txt from the current binary,
# with the normalisation tests/golden.rs applies (it does the writing: REQTRACE_REGEN_GOLDEN=1).
# Regenerate only when an output change is intended, and review the diff before committing:
# every changed line is a changed verdict (tests/fixtures/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build
REQTRACE_REGEN_GOLDEN=1 cargo test --test golden -- --test-threads 1 --nocapture
git status --short -- tests/fixtures
git --no-pager diff --stat -- tests/fixtures
