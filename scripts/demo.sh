#!/usr/bin/env bash
# The demo: the .phpp postmortem, reproduced and diagnosed. Installs apache2 if missing (as
# root), builds reqtrace and puts it on PATH (scripts/install.sh: /usr/local/bin), starts a throwaway Apache on 127.0.0.1 (its own config, port,
# DocumentRoot and logs under a temp dir; never the system one) whose /home is rewritten to a
# typo'd index.phpp, shows that Apache's logs say nothing, then runs
#   reqtrace attach --apache --probe http://127.0.0.1:PORT/home
# Then the same mistake on today's common PHP stack: the same Apache hands /shop/*.php to a
# throwaway php-fpm pool (mod_proxy_fcgi, ProxyPassMatch with a typo'd target); Apache logs only
# "Primary script unknown", and
#   reqtrace attach --apache --probe http://127.0.0.1:PORT/shop/cart.php
# follows the request into the php-fpm worker that failed. Stops both servers. Exits 0 when
# reqtrace found both typos.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -x /usr/sbin/php-fpm8.2 ] || need+=(php8.2-fpm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "demo: ${need[*]} missing; run as root so they can be installed" >&2
    exit 2
  fi
  echo "demo: installing ${need[*]}"
  # Debian starts a package's service on install: keep it from taking port 80 or the pool.
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
# The PHP shop, run by php-fpm behind the same Apache; the deploy typo'd its directory.
mkdir -p "$root/www/shop"
echo '<?php echo "cart"; ?>' >"$root/www/shop/cart.php"
cat >"$root/fpm.conf" <<FPM
[global]
pid = $root/run/fpm.pid
error_log = $root/logs/php-fpm.log
daemonize = no
[shop]
user = www-data
group = www-data
listen = $root/run/fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = static
pm.max_children = 2
chdir = /
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
FPM
cat >"$root/sites/shop.conf" <<CONF
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so
ProxyPassMatch "^/shop/(.*\\.php)\$" "unix:$root/run/fpm.sock|fcgi://localhost$root/www/shopp/\$1"
CONF

# setsid: on shutdown Apache (and php-fpm) signal their whole process group, which must not
# be ours. -n: php-fpm without Debian's php.ini and conf.d (the pool sets what it needs).
setsid /usr/sbin/php-fpm8.2 -F -n -y "$root/fpm.conf" &
fpm=$!
for _ in $(seq 100); do
  [ -S "$root/run/fpm.sock" ] && break
  sleep 0.1
done
setsid /usr/sbin/apache2 -f "$root/httpd.conf" -DFOREGROUND &
apache=$!
cleanup() {
  kill -TERM "$apache" "$fpm" 2>/dev/null || true
  wait "$apache" "$fpm" 2>/dev/null || true
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
if [ "$rc" -ne 1 ]; then
  echo "== reqtrace exited $rc; expected 1 (a failing probe)" >&2
  exit 1
fi
echo "== reqtrace exited 1: the probe failed and the report above names the cause."
echo
echo "== The same mistake behind php-fpm. $root/sites/shop.conf:"
sed 's/^/   /' "$root/sites/shop.conf"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/shop/cart.php" 2>/dev/null || echo "?")
echo "== GET /shop/cart.php answers $code. Apache's error log says:"
grep 'proxy_fcgi' "$root/logs/error.log" | tail -1 | sed 's/^/   /' || echo "   (nothing)"
echo
echo "== reqtrace attach --apache --probe http://127.0.0.1:$port/shop/cart.php"
set +e
out=$("$bin" attach --apache --probe "http://127.0.0.1:$port/shop/cart.php" 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
echo
if [ "$rc" -eq 1 ] && grep -q 'shopp/cart.php.* in php-fpm' <<<"$out"; then
  echo "== reqtrace exited 1 and named the php-fpm worker's failing call: the request was followed across FastCGI."
  exit 0
fi
echo "== reqtrace exited $rc; expected 1 with the php-fpm worker's failing call" >&2
exit 1
