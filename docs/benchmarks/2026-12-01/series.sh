#!/bin/bash
# series.sh JAR|netty RUNS CONNS IN_FLIGHT SIZE [server JVM options...]
# One echo server pinned to CPU 0 (stcp's examples jar, or the bench's Netty epoll echo), then RUNS
# back-to-back 3 s runs of the C generator pinned to CPU 1, without warm-up: how a server settles.
# Run from the repository root after `mvn -B -ntp install -DskipTests`; EXTRA adds echo options
# (e.g. EXTRA="--transport jdk").
set -u
J=${JAVA:-/usr/lib/jvm/temurin-25-jdk-amd64/bin/java}
B=stcp-bench/target/stcp-bench.jar
LG=stcp-bench/target/native/loadgen
WHAT=$1; N=$2; C=$3; F=$4; S=$5; shift 5
PORT=$((20000 + RANDOM % 10000))
if [ "$WHAT" = netty ]; then
  CUM=$([ "$S" -gt 65536 ] && echo composite || echo merge)
  taskset -c 0 "$J" "$@" --enable-native-access=ALL-UNNAMED -cp $B io.stcp.bench.BenchMain netty-echo \
    --addr 127.0.0.1:$PORT --transport epoll --cumulator $CUM > /tmp/series-server.log 2>&1 &
else
  taskset -c 0 "$J" "$@" --enable-native-access=ALL-UNNAMED -jar "$WHAT" echo --addr 127.0.0.1:$PORT \
    ${EXTRA:-} > /tmp/series-server.log 2>&1 &
fi
SP=$!
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
for i in $(seq "$N"); do
  taskset -c 1 $LG --addr 127.0.0.1:$PORT --connections "$C" --in-flight "$F" --size "$S" --warmup 0s \
    --duration 3s --server-pid $SP 2>&1 \
    | grep -o "msgs_per_s=[0-9.]*\|server_cpu_us_per_msg=[0-9.]*\|p50_us=[0-9]*\|p99_us=[0-9]*" | paste -s
done
kill $SP; wait $SP 2>/dev/null
