#!/bin/bash
# RocksDB work of the message path, from /metrics: a node with two users who name no device,
# bob listening (acknowledging each message), alice sending N texts with tidings-cli.
# Prints the tidings_db_*_total counters before and after the N messages; compare two builds.
# usage: bench/db_writes.sh NODE_BINARY CLI_BINARY [N]
set -e
NODE=$1; CLI=$2; N=${3:-200}
D=$(mktemp -d); trap 'kill $NP 2>/dev/null; wait $NP 2>/dev/null; rm -rf $D' EXIT
$NODE --port=0 --data-dir=$D/data --bind=127.0.0.1 --auth.argon2-ops=1 --auth.argon2-mem-kib=8192 --limits.rate=100000 --limits.burst=100000 > $D/out 2>&1 &
NP=$!
for i in $(seq 100); do grep -q "listening on" $D/out && break; sleep 0.1; done
URL=http://$(grep -o "listening on [0-9.:]*" $D/out | cut -d' ' -f3)
$CLI --url=$URL register alice password1 >/dev/null; $CLI --url=$URL register bob password1 >/dev/null
$CLI --url=$URL --token-file=$D/a login alice password1 >/dev/null
$CLI --url=$URL --token-file=$D/b login bob password1 >/dev/null
$CLI --url=$URL --token-file=$D/b listen --count=$N > $D/listen 2>&1 &
LP=$!
sleep 0.5
m() { curl -s $URL/metrics | grep -E '^tidings_db_(writes|puts|deletes|gets|iterators)_total' | tr '\n' ' '; }
echo "before: $(m)"
for i in $(seq $N); do $CLI --url=$URL --token-file=$D/a send bob "m$i" >/dev/null; done
wait $LP
sleep 0.5
echo "after:  $(m)"
