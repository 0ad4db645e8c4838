#!/usr/bin/env bash
# Whole-program wall times, native vs snare vs gVisor (Debian's runsc, ptrace platform) vs
# proot, in one run. Prints the median of N runs per cell, in ms, and snare's ratios.
# Usage: bench/scripts/compare.sh [N]      (needs: apt-get install runsc proot; a release build)
set -uo pipefail
cd "$(dirname "$0")/../.."
N=${1:-11}
SNARE=./target/x86_64-unknown-linux-gnu/release/snare
[ -x "$SNARE" ] || cargo build --release -q -p snare-sentry
have() { command -v "$1" >/dev/null; }

median_ms() { # command...
  local i s e
  for i in $(seq "$N"); do
    s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

cc -O2 -o /tmp/snare-orc bench/scripts/open_read_close.c 2>/dev/null
cc -O2 -pthread -o /tmp/snare-procs bench/scripts/procs.c 2>/dev/null

workloads=(
  "true|/bin/true"
  "python3 -c pass|/usr/bin/python3 -c pass"
  "find /usr/include -name *.h|/usr/bin/find /usr/include -name *.h"
  "open+read+close x20000|/tmp/snare-orc 20000"
  "fork+exit+wait x200|/tmp/snare-procs fork 200"
  "fork+exec+wait x200|/tmp/snare-procs forkexec 200"
  "pipe ping-pong x5000|/tmp/snare-procs pipe 5000"
  "thread create+join x200|/tmp/snare-procs thread 200"
  "sh loop: 200 x /bin/true|/bin/sh $PWD/bench/scripts/shloop.sh"
  "tar+gzip /usr/lib/python3.11|/bin/sh $PWD/bench/scripts/targz.sh"
)
printf "%-30s %10s %10s %10s %10s %9s %9s\n" workload native snare gvisor proot snare/nat gv/snare
for w in "${workloads[@]}"; do
  name=${w%%|*}; cmd=${w#*|}
  # shellcheck disable=SC2086
  nat=$(median_ms $cmd)
  # shellcheck disable=SC2086
  sn=$(median_ms "$SNARE" do -- $cmd)
  gv=-; pr=-
  # shellcheck disable=SC2086
  have runsc && gv=$(median_ms runsc --rootless --network=none --platform=ptrace do $cmd)
  # shellcheck disable=SC2086
  have proot && pr=$(median_ms proot $cmd)
  r=$(awk -v a="$sn" -v b="$nat" 'BEGIN{printf "%.1fx", a/b}')
  g=$(awk -v a="$gv" -v b="$sn" 'BEGIN{ if (a == "-") print "-"; else printf "%.1fx", a/b}')
  printf "%-30s %10s %10s %10s %10s %9s %9s\n" "$name" "$nat" "$sn" "$gv" "$pr" "$r" "$g"
done
