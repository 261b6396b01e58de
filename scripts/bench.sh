#!/usr/bin/env bash
# What does tracing cost a live Apache? An interleaved benchmark on 127.0.0.1.
#
#   scripts/bench.sh [--quick] [--seconds N] [--rounds R] [--threads "1 2"] [--baseline BIN]
#                   [--arms "strace reqtrace-json ..."]
#
# Installs wrk, apache2, strace and time if missing (as root), builds reqtrace and the
# bare_tracer example (--release), starts a throwaway prefork Apache on a free port of
# 127.0.0.1 (own config, DocumentRoot, logs under a temp dir; never the system one) serving
# a ~100-byte static file, and loads it with `wrk -t1 -c8 -dNs` under each arm:
#
#   untraced        no tracer
#   strace          strace -f -qq -e trace=%file -o /dev/null -p PID (every Apache process)
#   bare            examples/bare_tracer.rs MASTER: PTRACE_SYSCALL on every stop, no decoding;
#                   the floor of what ptrace costs
#   reqtrace-json   reqtrace attach --json -o /dev/null MASTER (an attached master's workers
#                   are attached too; correlation is on)
#   reqtrace-records  reqtrace attach --json --url / -o /dev/null MASTER: report mode, as
#                   with --apache: request records only, no syscall lines
#   reqtrace-human  reqtrace attach -o /dev/null MASTER
#   reqtrace-json-tT  reqtrace attach --json --threads T ... for each T in --threads, when
#                   `reqtrace attach --help` lists --threads
#   ebpf-json       reqtrace attach --backend ebpf --json MASTER: kernel tracepoints, nothing
#                   stopped (the JSON goes to a file: its start line says it is attached)
#   ebpf-records    reqtrace attach --backend ebpf --json --url / MASTER: report mode
#   ebpf-idle       examples/ebpf_floor.rs --stage idle: reqtrace's kernel program attached,
#                   following only a sleeping process: what every syscall on the machine pays
#   ebpf-drain      ebpf_floor --stage drain MASTER: following Apache, the records read off
#                   the ring buffer and thrown away: the kernel side's whole cost
#   ebpf-decode     ebpf_floor --stage decode MASTER: the records also decoded into events
#                   (the source thread's work); ebpf-records adds the pipeline to this
#   baseline-json   with --baseline BIN: BIN attach --json -o /dev/null MASTER, another build
#                   of reqtrace (say, the commit before a change) in the same interleaved run
#
# --arms LIST runs only those arms (untraced always runs too): more rounds of an A/B in the
# same time.
#
# Every round runs every arm (interleaved, so slow drifts of a shared machine hit all arms
# alike), in this order rotated by one more place each round (round 2 starts with the second
# arm, ...): no arm always runs right after the untraced one, or always last. A traced arm
# starts the tracer, waits until every Apache thread shows TracerPid != 0 (an eBPF arm: until its start line is written), runs wrk, stops the tracer with SIGINT and waits for it; /usr/bin/time gives
# its CPU time and peak RSS. After each arm every Apache thread must be in state S or R with
# TracerPid 0 (detached cleanly, nothing left stopped).
#
# Prints a table (req/s per round, median, ratios, tracer CPU, peak RSS), then the same as
# Markdown between marker lines. Default: 10 s per run, 3 rounds. --quick (CI): 2 s, 1 round.
# Timings are never asserted; exit 0 when every arm ran and detached cleanly, 1 otherwise,
# 2 on a usage or set-up error.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/bench.sh [--quick] [--seconds N] [--rounds R] [--threads \"1 2\"] [--baseline BIN] [--arms LIST]" >&2
  exit 2
}
quick=0 seconds="" rounds="" threads_list="1 2" baseline="" only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --seconds) [ $# -ge 2 ] || usage; seconds=$2; shift ;;
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift ;;
    --threads) [ $# -ge 2 ] || usage; threads_list=$2; shift ;;
    --baseline) [ $# -ge 2 ] && [ -x "$2" ] || usage; baseline=$(realpath "$2"); shift ;;
    --arms) [ $# -ge 2 ] || usage; only=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
  shift
done
if [ "$quick" -eq 1 ]; then
  seconds=${seconds:-2} rounds=${rounds:-1}
else
  seconds=${seconds:-10} rounds=${rounds:-3}
fi
[[ "$seconds" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] || usage
for t in $threads_list; do [[ "$t" =~ ^[1-9][0-9]*$ ]] || usage; done

say() { echo "bench: $*" >&2; }

# ---- tools -------------------------------------------------------------------------------
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v strace >/dev/null 2>&1 || need+=(strace)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -x /usr/bin/time ] || need+=(time)
# The eBPF arms: reqtrace is built with its kernel program when clang is there.
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v ps >/dev/null 2>&1 || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing ${need[*]}; run as root so they can be installed"
    exit 2
  fi
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
  say "tracing Apache's workers (www-data, not dumpable) needs root"
  exit 2
fi

say "building reqtrace, bare_tracer and ebpf_floor (--release)"
cargo build --release --quiet --bin reqtrace --example bare_tracer --example ebpf_floor

root="" apache="" tracer="" timer="" idle=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # A tracer still running: SIGINT so it detaches, SIGKILL if it does not within 5 s (the
  # kernel then detaches its tracees, which run on: no tracer uses PTRACE_O_EXITKILL).
  if [ -n "$tracer" ] && kill -INT "$tracer" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$tracer" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$tracer" 2>/dev/null || true
  fi
  [ -n "$timer" ] && { wait "$timer" 2>/dev/null || true; }
  if [ -n "$apache" ]; then
    kill -TERM "$apache" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$apache" 2>/dev/null || break; sleep 0.1; done
    # setsid made the master a process-group leader: whatever is left of it, by its group.
    kill -KILL -- "-$apache" 2>/dev/null || true
    wait "$apache" 2>/dev/null || true
  fi
  [ -n "$idle" ] && { kill "$idle" 2>/dev/null || true; }
  [ -n "$root" ] && rm -rf "$root"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- a throwaway Apache --------------------------------------------------------------------
port=18181
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
root=$(mktemp -d /tmp/reqtrace-bench.XXXXXX)
chmod 755 "$root"
mkdir -p "$root"/{run,logs,www,out,bin}
out=$root/out
# Copies: a concurrent cargo build must not swap the binaries between arms.
cp target/release/reqtrace target/release/examples/bare_tracer target/release/examples/ebpf_floor "$root/bin/"
[ -z "$baseline" ] || cp "$baseline" "$root/bin/reqtrace-baseline"
reqtrace=$root/bin/reqtrace
bare=$root/bin/bare_tracer
floor=$root/bin/ebpf_floor
# What ebpf-idle follows: a process that makes no syscalls while it sleeps.
sleep 100000 &
idle=$!
# 100 bytes.
printf '%099d\n' 0 | tr 0 x >"$root/www/small.txt"
# Modelled on tests/apache/httpd.conf.in. A fixed pool of 10 prefork workers (>= wrk's 8
# connections, and MinSpare = MaxRequestWorkers so it neither grows nor shrinks between arms:
# every arm traces the same processes, and no arm pays for forks another did not).
cat >"$root/httpd.conf" <<EOF
ServerRoot "/etc/apache2"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$root/run/httpd.pid"
DefaultRuntimeDir "$root/run"
Mutex file:$root/run default
User www-data
Group www-data

LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so

StartServers 10
MinSpareServers 10
MaxSpareServers 11
ServerLimit 10
MaxRequestWorkers 10
KeepAlive On
TypesConfig /etc/mime.types
ErrorLog "$root/logs/error.log"
LogLevel warn
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog "$root/logs/access.log" common

DocumentRoot "$root/www"
<Directory "$root/www">
    AllowOverride All
    Require all granted
</Directory>
DirectoryIndex index.html
EOF

# setsid: on shutdown Apache signals its whole process group, which must not be ours.
setsid /usr/sbin/apache2 -f "$root/httpd.conf" -DFOREGROUND &
apache=$!
url=http://127.0.0.1:$port/small.txt
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
# Wait for the whole pool.
for _ in $(seq 100); do
  [ "$(ps -o pid= --ppid "$apache" | wc -l)" -ge 10 ] && break
  sleep 0.1
done

# The master and its workers; every thread of them.
apache_pids() { echo "$apache"; ps -o pid= --ppid "$apache"; }
apache_tids() {
  local p
  for p in $(apache_pids); do ls "/proc/$p/task" 2>/dev/null; done
}
field() { awk -v k="$1:" '$1 == k { print $2 }' "$2" 2>/dev/null; }

# Until every Apache thread has a tracer (15 s at most).
wait_traced() {
  local tid ok
  if [[ "$1" == ebpf* ]]; then
    for _ in $(seq 300); do
      grep -q '"type":"start"' "$out/ebpf.out" 2>/dev/null && return 0
      kill -0 "$tracer" 2>/dev/null || return 1
      sleep 0.05
    done
    return 1
  fi
  for _ in $(seq 300); do
    ok=1
    for tid in $(apache_tids); do
      [ "$(field TracerPid "/proc/$tid/status")" = 0 ] && { ok=0; break; }
    done
    [ "$ok" -eq 1 ] && return 0
    kill -0 "$tracer" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# Every Apache thread running or sleeping, untraced. Retries for 2 s (a thread can be seen
# mid-transition); prints the offenders when it gives up.
check_clean() {
  local tid bad
  for _ in $(seq 20); do
    bad=""
    kill -0 "$apache" 2>/dev/null || { echo "Apache master $apache is gone"; return 1; }
    for tid in $(apache_tids); do
      local st tp
      st=$(field State "/proc/$tid/status")
      tp=$(field TracerPid "/proc/$tid/status")
      [ -z "$st" ] && continue # exited meanwhile
      if [[ "$st" != [SR] || "$tp" != 0 ]]; then bad+=" $tid(state $st, TracerPid $tp)"; fi
    done
    [ -z "$bad" ] && return 0
    sleep 0.1
  done
  echo "left behind:$bad"
  return 1
}

# ---- arms ------------------------------------------------------------------------------------
arms=(untraced strace bare reqtrace-json reqtrace-records reqtrace-human ebpf-json ebpf-records
  ebpf-idle ebpf-drain ebpf-decode)
if "$reqtrace" attach --help 2>/dev/null | grep -q -- '--threads'; then
  for t in $threads_list; do arms+=("reqtrace-json-t$t"); done
else
  say "reqtrace attach has no --threads: no per-thread-count arms"
fi
[ -z "$baseline" ] || arms+=(baseline-json)
if [ -n "$only" ]; then
  for a in $only; do
    [[ " ${arms[*]} " == *" $a "* ]] || { say "--arms: no arm $a (arms: ${arms[*]})"; exit 2; }
  done
  arms=(untraced)
  for a in $only; do [ "$a" = untraced ] || arms+=("$a"); done
fi

# The tracer command of an arm, in the array `cmd`.
arm_cmd() {
  cmd=()
  case "$1" in
    untraced) ;;
    strace)
      cmd=(strace -f -qq -e trace=%file -o /dev/null)
      local p
      for p in $(apache_pids); do cmd+=(-p "$p"); done
      ;;
    bare) cmd=("$bare" "$apache") ;;
    reqtrace-json) cmd=("$reqtrace" attach --json -o /dev/null "$apache") ;;
    # Report mode, as with --apache (which would attach to every Apache on the machine):
    # request records only, no syscall lines.
    reqtrace-records) cmd=("$reqtrace" attach --json --url / -o /dev/null "$apache") ;;
    reqtrace-human) cmd=("$reqtrace" attach -o /dev/null "$apache") ;;
    reqtrace-json-t*) cmd=("$reqtrace" attach --json --threads "${1#reqtrace-json-t}" -o /dev/null "$apache") ;;
    baseline-json) cmd=("$root/bin/reqtrace-baseline" attach --json -o /dev/null "$apache") ;;
    # No TracerPid to wait for: the output's start line says the program is attached.
    ebpf-json) cmd=("$reqtrace" attach --backend ebpf --json -o "$out/ebpf.out" "$apache") ;;
    ebpf-records) cmd=("$reqtrace" attach --backend ebpf --json --url / -o "$out/ebpf.out" "$apache") ;;
    ebpf-idle) cmd=("$floor" --stage idle -o "$out/ebpf.out" "$idle") ;;
    ebpf-drain) cmd=("$floor" --stage drain -o "$out/ebpf.out" "$apache") ;;
    ebpf-decode) cmd=("$floor" --stage decode -o "$out/ebpf.out" "$apache") ;;
  esac
}

declare -A rps cpu rss reqs drops lat tmo recorded
failures=0
fail() {
  say "FAIL: $*"
  failures=$((failures + 1))
}

# stop_tracer ARM ROUND: SIGINT to the running tracer, wait (10 s at most, then SIGKILL);
# false unless it exited by itself with its usual status.
stop_tracer() {
  local gone=0 trc=0
  [ -n "$tracer" ] && kill -INT "$tracer" 2>/dev/null
  for _ in $(seq 200); do
    kill -0 "$timer" 2>/dev/null || { gone=1; break; }
    sleep 0.05
  done
  if [ "$gone" -eq 0 ]; then
    fail "$1 round $2: the tracer did not exit within 10 s of SIGINT"
    kill -KILL "$tracer" 2>/dev/null
  fi
  wait "$timer" || trc=$?
  tracer="" timer=""
  [ "$gone" -eq 1 ] || return 1
  # reqtrace and bare_tracer exit 0 after detaching on SIGINT; strace exits 128+SIGINT.
  [ "$1" = strace ] && [ "$trc" -eq 130 ] && trc=0
  if [ "$trc" -ne 0 ]; then
    fail "$1 round $2: the tracer exited $trc"
    return 1
  fi
}

# run_arm ARM ROUND: one wrk run under ARM; records rps/cpu/rss; false on failure.
run_arm() {
  local arm=$1 r=$2 key="$1,$2" cmd
  arm_cmd "$arm"
  : >"$root/logs/access.log"
  rm -f "$out/ebpf.out"
  tracer="" timer=""
  if [ ${#cmd[@]} -gt 0 ]; then
    /usr/bin/time -f "%U %S %M" -o "$out/time.$key" "${cmd[@]}" 2>"$out/err.$key" &
    timer=$!
    for _ in $(seq 100); do
      tracer=$(ps -o pid= --ppid "$timer" | tr -d ' ' | head -n1)
      [ -n "$tracer" ] && break
      sleep 0.02
    done
    if [ -z "$tracer" ] || ! wait_traced "$arm"; then
      fail "$arm round $r: the tracer did not attach to every Apache thread"
      sed 's/^/    /' "$out/err.$key" >&2
      stop_tracer "$arm" "$r" || true
      local why
      why=$(check_clean) || fail "$arm round $r: Apache not cleanly detached: $why"
      return 1
    fi
  fi

  local wrk_rc=0
  timeout $((seconds + 30)) wrk -t1 -c8 -d"${seconds}s" "$url" >"$out/wrk.$key" 2>&1 || wrk_rc=$?
  local ok=1
  if [ -n "$timer" ]; then
    stop_tracer "$arm" "$r" || ok=0
    local t
    t=$(tail -n1 "$out/time.$key")
    cpu[$key]=$(awk '{ printf "%.2f", $1 + $2 }' <<<"$t")
    rss[$key]=$(awk '{ printf "%.1f", $3 / 1024 }' <<<"$t")
    # Events reqtrace dropped because its writer thread could not keep up ("reqtrace: N
    # events ... dropped ..." on stderr): work it did not do, so they go in the table.
    drops[$key]=$(sed -n 's/^reqtrace: \([0-9][0-9]*\) [^0-9]*dropped.*/\1/p' "$out/err.$key" | head -n1)
    if [[ "$arm" == ebpf* ]]; then
      # The kernel side's drops (a full ring buffer) and the pipeline's, from the summary;
      # and how many requests got a record.
      drops[$key]=$(grep '"type":"summary"' "$out/ebpf.out" | sed -n 's/.*"dropped":\([0-9]*\).*/\1/p' | tail -n1)
      # ebpf_floor: the kernel side's losses, from its closing line.
      [ -n "${drops[$key]}" ] || drops[$key]=$(sed -n 's/^ebpf_floor: .* \([0-9][0-9]*\) lost in the kernel$/\1/p' "$out/err.$key")
      recorded[$key]=$(grep -c '"type":"request"' "$out/ebpf.out" || true)
    fi
    # Anything else the tracer said, minus the usual summary and bare_tracer's counts.
    if grep -v '^bare_tracer: \|^ebpf_floor: \|^reqtrace: .*, detached$' "$out/err.$key" | grep -q .; then
      say "$arm round $r: the tracer said on stderr:"
      grep -v '^bare_tracer: \|^ebpf_floor: \|^reqtrace: .*, detached$' "$out/err.$key" | head -n 5 | sed 's/^/    /' >&2
    fi
  fi
  local why
  if ! why=$(check_clean); then
    fail "$arm round $r: Apache not cleanly detached: $why"
    ok=0
  fi

  local v n
  v=$(awk '/^Requests\/sec:/ { print $2 }' "$out/wrk.$key")
  n=$(awk '/requests in/ { print $1 }' "$out/wrk.$key")
  if [ "$wrk_rc" -ne 0 ] || [ -z "$v" ] || [ "${n:-0}" -eq 0 ]; then
    fail "$arm round $r: wrk failed (exit $wrk_rc)"
    sed 's/^/    /' "$out/wrk.$key" >&2
    return 1
  fi
  if grep -q 'Non-2xx\|Socket errors' "$out/wrk.$key"; then
    say "$arm round $r: wrk reported errors:"
    grep 'Non-2xx\|Socket errors' "$out/wrk.$key" | sed 's/^/    /' >&2
  fi
  rps[$key]=$v
  reqs[$key]=$n
  # Requests wrk gave up on (no answer within its 2 s timeout): not in its latency figures.
  tmo[$key]=$(sed -n 's/.*Socket errors:.* timeout \([0-9]*\).*/\1/p' "$out/wrk.$key")
  # wrk's slowest request, in ms ("Latency  avg  stdev  max  +/-stdev"; units us ms s m).
  lat[$key]=$(awk '$1 == "Latency" { v = $4; u = v; sub(/^[0-9.]+/, "", u); v += 0
      f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1; printf "%.0f", v * f }' "$out/wrk.$key")
  local extra=""
  [ -n "${cpu[$key]:-}" ] && extra=", tracer ${cpu[$key]} s CPU, ${rss[$key]} MiB"
  [ -n "${drops[$key]:-}" ] && extra+=", ${drops[$key]} events dropped"
  [ "$arm" = ebpf-records ] && extra+=", ${recorded[$key]:-0} of $n requests recorded"
  # Nothing lost silently: a request without its record means something was counted as
  # dropped.
  if [ "$arm" = ebpf-records ] && [ "${recorded[$key]:-0}" -lt "$n" ] && [ "${drops[$key]:-0}" -eq 0 ]; then
    fail "$arm round $r: $((n - ${recorded[$key]:-0})) requests have no record and nothing was counted as dropped"
    ok=0
  fi
  say "$(printf '%-18s round %d: %10.0f req/s%s' "$arm" "$r" "$v" "$extra")"
  [ "$ok" -eq 1 ]
}

say "Apache (prefork, 10 workers) on 127.0.0.1:$port, master $apache; wrk -t1 -c8 -d${seconds}s, $rounds round(s)"
say "arms: ${arms[*]}"
# Warm-up, not recorded: page cache, Apache's first requests.
timeout 30 wrk -t1 -c8 -d"$(( quick ? 1 : 2 ))s" "$url" >/dev/null 2>&1 || true
for r in $(seq "$rounds"); do
  # Rotated a place each round: an arm's position in the round (after which arm, how long
  # since the warm-up) is not the same in every round, so it cannot favour one arm.
  n=${#arms[@]}
  for i in $(seq 0 $((n - 1))); do
    run_arm "${arms[$(( (i + r - 1) % n ))]}" "$r" || true
    sleep 1
  done
done

# ---- table ----------------------------------------------------------------------------------
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit; print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
vals() { # vals ARRAY ARM: the arm's values over the rounds
  local -n arr=$1
  local r
  for r in $(seq "$rounds"); do [ -n "${arr[$2,$r]:-}" ] && printf '%s ' "${arr[$2,$r]}"; done
}
declare -A med
for arm in "${arms[@]}"; do med[$arm]=$(vals rps "$arm" | median); done
ratio() { # ratio A B: A / B to two places, or "—"
  if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "—"; fi
}

header=("arm")
for r in $(seq "$rounds"); do header+=("req/s r$r"); done
header+=("median req/s" "× untraced" "× strace" "× bare" "max latency ms" "tracer CPU s" "CPU µs/req" "peak RSS MiB" "dropped")
rows=()
for arm in "${arms[@]}"; do
  row=("$arm")
  for r in $(seq "$rounds"); do
    v=${rps[$arm,$r]:-}
    row+=("${v:+$(printf '%.0f' "$v")}")
    [ -z "$v" ] && row[-1]="—"
  done
  m=${med[$arm]}
  row+=("${m:+$(printf '%.0f' "$m")}")
  [ -z "$m" ] && row[-1]="—"
  row+=("$(ratio "$m" "${med[untraced]}")")
  if [[ "$arm" == reqtrace* || "$arm" == baseline* || "$arm" == ebpf* ]]; then
    row+=("$(ratio "$m" "${med[strace]:-}")" "$(ratio "$m" "${med[bare]:-}")")
  else
    row+=("—" "—")
  fi
  m=$(vals lat "$arm" | tr ' ' '\n' | grep . | sort -g | tail -n1)
  t=0
  for r in $(seq "$rounds"); do t=$((t + ${tmo[$arm,$r]:-0})); done
  [ "$t" -gt 0 ] && m+=" (+$t timed out)"
  row+=("${m:-—}")
  if [ "$arm" = untraced ]; then
    row+=("—" "—" "—" "—")
  else
    c=$(vals cpu "$arm" | median)
    # Tracer CPU per request served, over all rounds.
    tc=0 tn=0
    for r in $(seq "$rounds"); do
      tc=$(awk -v a="$tc" -v b="${cpu[$arm,$r]:-0}" 'BEGIN { print a + b }')
      tn=$((tn + ${reqs[$arm,$r]:-0}))
    done
    us="—"
    [ "$tn" -gt 0 ] && us=$(awk -v c="$tc" -v n="$tn" 'BEGIN { printf "%.1f", c * 1e6 / n }')
    m=$(vals rss "$arm" | tr ' ' '\n' | grep . | sort -g | tail -n1)
    # Events reqtrace dropped, over all rounds (— for strace and bare, which drop nothing).
    d="—"
    if [[ "$arm" == reqtrace* || "$arm" == baseline* || "$arm" == ebpf* ]]; then
      d=0
      for r in $(seq "$rounds"); do d=$((d + ${drops[$arm,$r]:-0})); done
    fi
    row+=("${c:-—}" "$us" "${m:-—}" "$d")
  fi
  rows+=("$(IFS=$'\t'; echo "${row[*]}")")
done

echo
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
# The machine and its untraced speed go with every table: a ratio from one machine is not a
# result on another.
echo "machine: ${cpu_model:-unknown CPU}, $(nproc) CPUs, kernel $(uname -r), untraced median $(printf '%.0f' "${med[untraced]:-0}") req/s"
echo "wrk -t1 -c8 -d${seconds}s, $rounds round(s), $(nproc) CPUs; median over rounds; × = ratio of medians; max latency = wrk's slowest request, all rounds (timed out: no answer within wrk's 2 s); tracer CPU = user+sys, median; peak RSS = max; dropped = events reqtrace dropped, all rounds"
{
  (IFS=$'\t'; echo "${header[*]}")
  printf '%s\n' "${rows[@]}"
} | awk -F'\t' '
  # Display width: UTF-8 continuation bytes (of × and µ) take no column.
  function width(s) { gsub(/[\200-\277]/, "", s); return length(s) }
  { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (width($i) > w[i]) w[i] = width($i) } n = NF }
  END {
    for (r = 1; r <= NR; r++) {
      line = ""
      for (i = 1; i <= n; i++) { pad = sprintf("%*s", w[i] - width(c[r, i]) + 2, ""); line = line c[r, i] pad }
      sub(/ +$/, "", line); print line
    }
  }'
echo
echo "----- BEGIN MARKDOWN -----"
printf '| %s ' "${header[@]}"; echo '|'
printf '|'; for _ in "${header[@]}"; do printf ' --- |'; done; echo
for row in "${rows[@]}"; do echo "| ${row//$'\t'/ | } |"; done
echo "----- END MARKDOWN -----"

if [ "$failures" -gt 0 ]; then
  say "$failures failure(s)"
  exit 1
fi
say "every arm ran and detached cleanly"
