#!/bin/bash
cd /work/main
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java; B=stcp-bench/target/stcp-bench.jar; LG=stcp-bench/target/native/loadgen
WHAT=$1; C=$2; F=$3; S=$4; PORT=$((20000 + RANDOM % 10000))
if [ "$WHAT" = netty ]; then
  taskset -c 0 $J --enable-native-access=ALL-UNNAMED -cp $B io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --transport epoll --cumulator merge > /tmp/sys.server.log 2>&1 &
else
  taskset -c 0 $J --enable-native-access=ALL-UNNAMED -jar $WHAT echo --addr 127.0.0.1:$PORT ${EXTRA:-} > /tmp/sys.server.log 2>&1 &
fi
SP=$!
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
taskset -c 1 $LG --addr 127.0.0.1:$PORT --connections $C --in-flight $F --size $S --warmup 4s --duration 6s --server-pid $SP > /tmp/sys.lg.log 2>&1 &
LP=$!
sleep 5; perf stat -x, -e syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,syscalls:sys_enter_sched_yield -p $SP -- sleep 3 2> /tmp/sys.stat.txt >/dev/null
wait $LP; kill $SP; wait $SP 2>/dev/null
M=$(grep '^result' /tmp/sys.lg.log | grep -o 'msgs_per_s=[0-9.]*' | cut -d= -f2)
echo "$WHAT msgs/s $M"
awk -F, -v m=$M '{ if ($1+0>0) printf "  %-35s %9d  per msg %.3f\n", $3, $1, $1/(m*3) }' /tmp/sys.stat.txt
