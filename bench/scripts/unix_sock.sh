#!/usr/bin/env bash
# AF_UNIX socketpair benches of issue 15, native and under snare interleaved (one native run,
# then one snare run, R times): prints each cell's median ns per operation and the ratio.
# Usage: bench/scripts/unix_sock.sh [R]       (a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
R=${1:-7}
SNARE=./target/x86_64-unknown-linux-gnu/release/snare
[ -x "$SNARE" ] || cargo build --release -q -p snare-sentry
cc -O2 -o /tmp/snare-unix-sock bench/scripts/unix_sock.c
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-28s %10s %10s %8s\n" workload "native ns" "snare ns" ratio
for w in "rr 20000|AF_UNIX 1-byte req/resp" "stream 5000|AF_UNIX stream 64 KiB"; do
  args=${w%%|*}; name=${w#*|}
  nat=(); sn=()
  for _ in $(seq "$R"); do
    # shellcheck disable=SC2086
    nat+=("$(/tmp/snare-unix-sock $args)")
    # shellcheck disable=SC2086
    sn+=("$("$SNARE" do -- /tmp/snare-unix-sock $args)")
  done
  n=$(printf "%s\n" "${nat[@]}" | median)
  s=$(printf "%s\n" "${sn[@]}" | median)
  printf "%-28s %10s %10s %7.2fx\n" "$name" "$n" "$s" "$(awk -v a="$s" -v b="$n" 'BEGIN{print a/b}')"
done
