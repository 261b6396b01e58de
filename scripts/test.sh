#!/usr/bin/env bash
# The whole test suite: installs what the tests need when it is missing (strace, jq, curl,
# apache2, nginx, mod_php, php-fpm, DokuWiki, clang and libbpf-dev; apt-get, as root), then checks
# formatting and lints, builds, puts reqtrace
# on PATH (scripts/install.sh: /usr/local/bin/reqtrace), and runs every test.
# The tests trace real processes with ptrace, so they need root or CAP_SYS_PTRACE.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in strace jq curl; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -x /usr/sbin/nginx ] || need+=(nginx)
# Real PHP applications (tests/php_apps.rs): mod_php on a private prefork Apache, php-fpm,
# and DokuWiki as Debian packages it (code in /usr/share, conf in /etc, data in /var/lib).
# Installing libapache2-mod-php switches the system's Apache to prefork; the tests never use
# the system's configuration (each loads its own modules, tests/apache/httpd.conf.in), so
# the event and worker tests are unaffected.
[ -e /usr/lib/apache2/modules/libphp8.2.so ] || need+=(libapache2-mod-php8.2)
[ -x /usr/sbin/php-fpm8.2 ] || need+=(php8.2-fpm)
[ -e /usr/share/dokuwiki/doku.php ] || need+=(dokuwiki)
# The eBPF backend (tests/ebpf.rs): build.rs compiles its kernel program with clang and the
# libbpf headers; without them reqtrace builds without it and those tests are skipped.
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh: missing ${need[*]}; run as root so they can be installed" >&2
    exit 2
  fi
  echo "scripts/test.sh: installing ${need[*]}"
  # Debian starts a package's service on install (nginx and apache2 both want port 80,
  # php-fpm its pool); the tests start their own servers on their own ports, so keep
  # services from starting.
  policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
fi

# tracefs, where the eBPF backend finds its tracepoints, is not always mounted.
if [ "$(id -u)" -eq 0 ] && [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null ||
    echo "scripts/test.sh: could not mount tracefs: the eBPF tests will fail" >&2
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo build --all-targets
# The README's examples call `reqtrace`: leave it on PATH (a release build, replaced each run).
scripts/install.sh || echo "scripts/test.sh: reqtrace is not on PATH (see above)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# clang is installed above: the eBPF tests must run, not skip.
REQTRACE_REQUIRE_EBPF=1 cargo test --all-targets 2>&1 | tee "$log"

# The benchmark's quick mode: every arm runs and detaches cleanly (timings are not asserted).
scripts/bench.sh --quick

# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
