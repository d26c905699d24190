#!/usr/bin/env bash
# usage: run.sh NAME JAR PORT CONNS : profiles (MODE=stat: counts the system calls of) stcp's echo from JAR (or netty when JAR=netty) at CONNSx1 x SIZE bytes (default 16384), C generator; ROOT: the clone whose loadgen drives it
set -u
cd ${ROOT:-/tmp/fc14/stcp}
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
O=${OUT:-/tmp/prof16/out}
mkdir -p $O; NAME=$1; JAR=$2; PORT=$3; CONNS=${4:-1000}
if [ "$JAR" = netty ]; then
  taskset -c 0 $J/java -XX:+PreserveFramePointer --enable-native-access=ALL-UNNAMED -cp ${BENCH_JAR:-stcp-bench/target/stcp-bench.jar} io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --transport epoll --read-idle-seconds 300 > $O/server-$NAME.log 2>&1 &
else
  taskset -c 0 $J/java -XX:+PreserveFramePointer --enable-native-access=ALL-UNNAMED -jar $JAR echo --addr 127.0.0.1:$PORT > $O/server-$NAME.log 2>&1 &
fi
PID=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
taskset -c 1 stcp-bench/target/native/loadgen --addr 127.0.0.1:$PORT --warmup 8s --duration 10s --server-pid $PID --connections $CONNS --in-flight 1 --size ${SIZE:-16384} > $O/gen-$NAME-$CONNS.out 2>&1 &
GEN=$!
sleep 4; $J/jcmd $PID GC.run > /dev/null 2>&1
sleep 7
if [ "${MODE:-record}" = stat ]; then # the system calls per kind instead of a profile
  perf stat -e raw_syscalls:sys_enter -e syscalls:sys_enter_recvfrom -e syscalls:sys_enter_sendto -e syscalls:sys_enter_epoll_wait -e syscalls:sys_enter_setsockopt -e syscalls:sys_enter_read -e syscalls:sys_enter_write -p $PID -o $O/stat-$NAME.txt -- sleep 5 2> /dev/null
else
  perf record -F 999 -g -p $PID -o $O/perf-$NAME-$CONNS.data -- sleep 5 2> /dev/null
fi
$J/jcmd $PID Compiler.perfmap > /dev/null 2>&1
wait $GEN
cp /tmp/perf-$PID.map $O/ 2>/dev/null
echo "$NAME pid $PID"; grep result $O/gen-$NAME-$CONNS.out
kill $PID; wait $PID 2>/dev/null
