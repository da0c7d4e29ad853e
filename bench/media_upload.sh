#!/usr/bin/env bash
# Media upload memory and throughput: one node, one 60 MiB upload and its download through
# tidings-cli (both streamed), with the node's resident memory before, after and at its peak.
#
# usage: bench/media_upload.sh [BUILD_DIR] [SIZE_MIB]     (defaults: build, 60)
# Prints one Markdown table row per run, as recorded in docs/BENCHMARKS.md.
# Peak = VmHWM after resetting it (echo 5 > /proc/PID/clear_refs) just before the upload.
set -euo pipefail
build=${1:-build}
size_mib=${2:-60}
node_bin=$build/tools/tidings-node
cli_bin=$build/tools/tidings-cli
work=$(mktemp -d /tmp/tidings-bench-media-XXXXXX)
node_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$node_bin" --port=0 --bind=127.0.0.1 --data-dir="$work/data" \
  --auth.argon2-ops=1 --auth.argon2-mem-kib=8192 >"$work/node.out" 2>&1 &
node_pid=$!
for _ in $(seq 1 300); do # up to 30 s for the node to listen
  grep -q "listening on" "$work/node.out" && break
  sleep 0.1
done
url="http://$(sed -n 's/^listening on //p' "$work/node.out" | head -1)"
cli() { "$cli_bin" --url="$url" --token-file="$work/token" --timeout=60 "$@"; }
cli register bench_media bench-password >/dev/null
cli login bench_media bench-password >/dev/null

head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$work/blob.bin"
# Warm up (lazily allocated buffers, RocksDB column families touched once).
head -c 100000 /dev/urandom >"$work/warm.bin"
cli upload "$work/warm.bin" >/dev/null

kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$node_pid/status"; }
echo 5 >"/proc/$node_pid/clear_refs"
rss_before=$(kib VmRSS)
t0=$(date +%s.%N)
hash=$(cli upload "$work/blob.bin" | awk '{ print $2 }')
t1=$(date +%s.%N)
peak_upload=$(kib VmHWM)
cli fetch "$hash" "$work/copy.bin" >/dev/null
t2=$(date +%s.%N)
rss_after=$(kib VmRSS)
peak_all=$(kib VmHWM)

awk -v s="$size_mib" -v rb="$rss_before" -v pu="$peak_upload" -v pa="$peak_all" \
  -v ra="$rss_after" -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
  printf "| %d MiB | %.1f MiB | %+.1f MiB | %+.1f MiB | %+.1f MiB | %.0f MiB/s | %.0f MiB/s |\n",
    s, rb / 1024, (pu - rb) / 1024, (pa - rb) / 1024, (ra - rb) / 1024,
    s / (t1 - t0), s / (t2 - t1) }'
