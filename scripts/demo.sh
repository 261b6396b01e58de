#!/usr/bin/env bash
# The demo: the .phpp postmortem, reproduced and diagnosed. Installs apache2 if missing (as
# root), builds reqtrace and puts it on PATH (scripts/install.sh: /usr/local/bin), starts a throwaway Apache on 127.0.0.1 (its own config, port,
# DocumentRoot and logs under a temp dir; never the system one) whose /home is rewritten to a
# typo'd index.phpp, shows that Apache's logs say nothing, then runs
#   reqtrace attach --apache --probe http://127.0.0.1:PORT/home
# and stops the server. Exits 0 when reqtrace found the typo.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/sbin/apache2 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "demo: apache2 is missing; run as root so it can be installed" >&2
    exit 2
  fi
  echo "demo: installing apache2"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2 >/dev/null
fi
# On PATH, as the README's examples call it; without root it stays in target/release.
if scripts/install.sh; then
  bin=/usr/local/bin/reqtrace
else
  cargo build --release --quiet --bin reqtrace
  bin=$PWD/target/release/reqtrace
fi

port=18081
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
root=$(mktemp -d /tmp/reqtrace-demo.XXXXXX)
chmod 755 "$root"
mkdir -p "$root"/{run,logs,www,sites}
sed -e "s#@ROOT@#$root#g" -e "s#@PORT@#$port#g" -e "s#@MPM@#prefork#g" \
  tests/apache/httpd.conf.in >"$root/httpd.conf"
cp tests/apache/site.conf.in "$root/sites/site.conf"
echo '<?php echo "hello"; ?>' >"$root/www/index.php"

# setsid: on shutdown Apache signals its whole process group, which must not be ours.
setsid /usr/sbin/apache2 -f "$root/httpd.conf" -DFOREGROUND &
apache=$!
cleanup() {
  kill -TERM "$apache" 2>/dev/null || true
  wait "$apache" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

echo "== A throwaway Apache on 127.0.0.1:$port with the incident's site ($root/sites/site.conf):"
sed 's/^/   /' "$root/sites/site.conf"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/home" 2>/dev/null || echo "?")
echo "== GET /home answers $code. Apache's error log at the default LogLevel says:"
grep -v 'AH00163\|AH00094' "$root/logs/error.log" | sed 's/^/   /' || echo "   (nothing)"
echo
echo "== reqtrace attach --apache --probe http://127.0.0.1:$port/home"
set +e
"$bin" attach --apache --probe "http://127.0.0.1:$port/home"
rc=$?
set -e
echo
if [ "$rc" -eq 1 ]; then
  echo "== reqtrace exited 1: the probe failed and the report above names the cause."
  exit 0
fi
echo "== reqtrace exited $rc; expected 1 (a failing probe)" >&2
exit 1
