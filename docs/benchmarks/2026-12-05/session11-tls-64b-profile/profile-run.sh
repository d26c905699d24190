#!/usr/bin/env bash
# usage: run.sh NAME PORT ; profiles the server NAME (stcp|netty) at TLS 64B x 1 with the C generator
set -u
cd /work/main
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
C=/tmp/lg
NAME=$1; PORT=$2
if [ "$NAME" = stcp ]; then
  taskset -c 0 $J/java -XX:+PreserveFramePointer -jar stcp-examples/target/stcp-examples.jar echo --addr 127.0.0.1:$PORT --tls-cert $C/cert.pem --tls-key $C/key.pem > /tmp/prof/server-$NAME.log 2>&1 &
else
  taskset -c 0 $J/java -XX:+PreserveFramePointer --enable-native-access=ALL-UNNAMED -cp stcp-bench/target/stcp-bench.jar io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --tls-cert $C/cert.pem --tls-key $C/key.pem --tls-provider jdk --cumulator merge > /tmp/prof/server-$NAME.log 2>&1 &
fi
PID=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
taskset -c 1 stcp-bench/target/native/loadgen-tls --addr 127.0.0.1:$PORT --tls-ca $C/cert.pem --warmup 8s --duration 10s --server-pid $PID --connections 100 --in-flight 1 --size 64 > /tmp/prof/gen-$NAME.out 2>&1 &
GEN=$!
sleep 11
perf record -F 999 -g -p $PID -o /tmp/prof/perf-$NAME.data -- sleep 5 2> /dev/null
$J/jcmd $PID Compiler.perfmap > /dev/null 2>&1
wait $GEN
cp /tmp/perf-$PID.map /tmp/prof/ 2>/dev/null
echo "$NAME pid $PID"; grep result /tmp/prof/gen-$NAME.out
kill $PID; wait $PID 2>/dev/null
