#!/usr/bin/env bash
# Issue 15's seven loopback workloads (bench/scripts/net.c), natively and under snare,
# interleaved: each round runs every workload once natively, then once under `snare do`.
# Prints each cell's median ns per operation, snare's ratio to native (and best run to best
# run: the machine's noise hits snare's runs harder), the issue's goal, met or not (on the
# medians), then every run's figure.
# Usage: bench/scripts/net.sh [--busy] [ROUNDS]     (a release build; ROUNDS defaults to 7)
#   --busy   keep a spinning process running meanwhile (on two CPUs: the second one busy)
#   NET_MODES="tcp_rr udp_rr" runs only those workloads.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUSY=0
if [ "${1:-}" = --busy ]; then BUSY=1; shift; fi
R=${1:-7}
SNARE=./target/x86_64-unknown-linux-gnu/release/snare
[ -x "$SNARE" ] || cargo build --release -q -p snare-sentry
NET=/tmp/snare-net-$$
cc -O2 -o "$NET" bench/scripts/net.c || exit 1
SPIN=
cleanup() {
  [ -n "$SPIN" ] && kill "$SPIN" 2>/dev/null
  rm -f "$NET"
}
trap cleanup EXIT
if [ "$BUSY" = 1 ]; then
  (while :; do :; done) &
  SPIN=$!
fi

# mode|name|goal kind|limit: `ratio` goals bound snare/native time, `thrpt` goals bound
# snare's share of native throughput from below.
workloads=(
  "tcp_rr|TCP 1-byte req/resp|ratio|2"
  "tcp_stream|TCP stream 64 KiB|thrpt|0.6"
  "tcp_connect|TCP connect+accept+close|ratio|3"
  "udp_rr|UDP 1-byte req/resp|ratio|2"
  "unix_stream|AF_UNIX stream 64 KiB|thrpt|0.6"
  "unix_rr|AF_UNIX 1-byte req/resp|ratio|2"
  "epoll_echo16|epoll echo, 16 conns|ratio|2"
)
if [ -n "${NET_MODES:-}" ]; then
  sel=()
  for w in "${workloads[@]}"; do
    case " $NET_MODES " in *" ${w%%|*} "*) sel+=("$w") ;; esac
  done
  workloads=("${sel[@]}")
fi

# One run: prints its ns per operation, or FAIL (with the program's stderr on ours).
one() { # [snare do --] net MODE
  local out
  if out=$(timeout 300 "$@"); then
    sed -n 's/.* ns_per_op=\([0-9]*\).*/\1/p' <<<"$out"
  else
    echo "net.sh: '$*' failed (status $?)" >&2
    echo FAIL
  fi
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print NR ? a[int((NR+1)/2)] : "FAIL"}'; }
best() { tr ' ' '\n' | grep -v '^$' | sort -n | head -1; }

echo "rounds $R, $(nproc) CPUs, busy=$BUSY, $(git rev-parse --short HEAD 2>/dev/null), start: $(uptime)"
declare -A nat sn
for _ in $(seq "$R"); do
  for w in "${workloads[@]}"; do
    m=${w%%|*}
    nat[$m]+="$(one "$NET" "$m") "
    sn[$m]+="$(one "$SNARE" do -- "$NET" "$m") "
  done
done
echo "end: $(uptime)"
printf "%-26s %10s %10s %7s %7s  %-28s %s\n" workload "native ns" "snare ns" ratio best goal met
for w in "${workloads[@]}"; do
  IFS='|' read -r m name kind limit <<<"$w"
  n=$(median <<<"${nat[$m]//FAIL/}")
  s=$(median <<<"${sn[$m]//FAIL/}")
  case "${nat[$m]}${sn[$m]}" in *FAIL*) fails=" (some runs FAILED)" ;; *) fails= ;; esac
  if [ "$n" = FAIL ] || [ "$s" = FAIL ]; then
    printf "%-26s %10s %10s %7s %7s  %-28s %s\n" "$name" "$n" "$s" - - - "FAILED"
    continue
  fi
  ratio=$(awk -v a="$s" -v b="$n" 'BEGIN{printf "%.2fx", a/b}')
  bestr=$(awk -v a="$(best <<<"${sn[$m]//FAIL/}")" -v b="$(best <<<"${nat[$m]//FAIL/}")" 'BEGIN{printf "%.2fx", a/b}')
  if [ "$kind" = ratio ]; then
    goal="<= ${limit}x native"
    met=$(awk -v a="$s" -v b="$n" -v l="$limit" 'BEGIN{print (a/b <= l) ? "met" : "MISSED"}')
  else
    pct=$(awk -v a="$s" -v b="$n" 'BEGIN{printf "%.0f", 100*b/a}')
    goal=">= $(awk -v l="$limit" 'BEGIN{print 100*l}')% thrpt (is ${pct}%)"
    met=$(awk -v a="$s" -v b="$n" -v l="$limit" 'BEGIN{print (b/a >= l) ? "met" : "MISSED"}')
  fi
  printf "%-26s %10s %10s %7s %7s  %-28s %s%s\n" "$name" "$n" "$s" "$ratio" "$bestr" "$goal" "$met" "$fails"
done
echo "runs (ns per operation, native | snare):"
for w in "${workloads[@]}"; do
  m=${w%%|*}
  printf "  %-13s %s| %s\n" "$m" "${nat[$m]}" "${sn[$m]}"
done
