#!/bin/bash
# run.sh JAR|netty CONNS INFLIGHT SIZE TAG [jvm opts...]
# CG=NAME: the server starts inside the cgroup-v1 cpu group NAME, made by hand beforehand:
#   mkdir /sys/fs/cgroup/cpu/NAME; echo 2000 > .../cpu.cfs_period_us; echo 1000 > .../cpu.cfs_quota_us (half a core)
# Used: CG=stcpb OUT=DIR SETTLE=2 WARM=4s DUR=6s bash run-cgroup.sh JAR|netty 100 1 64 TAG (s-a n-a s-b n-b), then
# WARM=3s DUR=6s for s-c (budget) and s-u (CG empty: no budget), /proc/stat sampled 5-8 s into those two.
# One server (an stcp-examples.jar, or "netty") on CPU 0 with the given JVM options, the C generator on
# CPU 1 (WARM, DUR; PERF=1 records a profile; SETTLE=SECONDS: jcmd GC.run that long into the run). Run from the repository after `mvn -B package -DskipTests`.
set -u
mkdir -p "${OUT:-/tmp}"
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
B=stcp-bench/target/stcp-bench.jar
LG=${LG:-stcp-bench/target/native/loadgen}
WHAT=$1; C=$2; F=$3; S=$4; TAG=$5; shift 5
PORT=$((20000 + RANDOM % 10000))
if [ "$WHAT" = netty ]; then
  CUM=$([ $S -gt 65536 ] && echo composite || echo merge)
  sh -c '[ -n "$CG" ] && echo $$ > /sys/fs/cgroup/cpu/$CG/cgroup.procs; exec "$@"' sh taskset -c ${SCPU:-0} $J "$@" --enable-native-access=ALL-UNNAMED -cp $B io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --transport epoll --cumulator $CUM > ${OUT:-/tmp}/$TAG.server.log 2>&1 &
else
  sh -c '[ -n "$CG" ] && echo $$ > /sys/fs/cgroup/cpu/$CG/cgroup.procs; exec "$@"' sh taskset -c ${SCPU:-0} $J "$@" --enable-native-access=ALL-UNNAMED -jar $WHAT echo --addr 127.0.0.1:$PORT ${EXTRA:-} > ${OUT:-/tmp}/$TAG.server.log 2>&1 &
fi
SP=$!
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
taskset -c 1 $LG --addr 127.0.0.1:$PORT --connections $C --in-flight $F --size $S --warmup ${WARM:-3s} --duration ${DUR:-8s} --server-pid $SP ${LGX:-} > ${OUT:-/tmp}/$TAG.lg.log 2>&1 &
LP=$!
if [ -n "${SETTLE:-}" ]; then (sleep $SETTLE; /usr/lib/jvm/temurin-25-jdk-amd64/bin/jcmd $SP GC.run >/dev/null) & fi
if [ -n "${PERF:-}" ]; then sleep ${PSLEEP:-4}; perf record -F 2000 -g -p $SP -o ${OUT:-/tmp}/$TAG.perf.data -- sleep 5 >/dev/null 2>&1; fi
wait $LP
kill $SP; wait $SP 2>/dev/null
grep -v '^#' ${OUT:-/tmp}/$TAG.lg.log | tail -2
