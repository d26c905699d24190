#!/usr/bin/env bash
# Like for like: Netty's echo with a 5-minute ReadTimeoutHandler against stcp's echo (5-minute read-idle
# and 10 s first-frame timeouts, its defaults), alternating, at LOADS; C generator, pinned as the rig does,
# a full GC half-way through the warm-up.
set -u
cd /work/main
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
O=${OUT:-/tmp/lfl}
ROUNDS=${ROUNDS:-3}
PORT=9400
for load in ${LOADS:-1000 100}; do
  for r in $(seq 1 $ROUNDS); do
    for name in netty-idle stcp; do
      PORT=$((PORT + 1))
      if [ $name = stcp ]; then
        taskset -c 0 $J/java -jar stcp-examples/target/stcp-examples.jar echo --addr 127.0.0.1:$PORT > $O/server.log 2>&1 &
      else
        taskset -c 0 $J/java --enable-native-access=ALL-UNNAMED -cp stcp-bench/target/stcp-bench.jar io.stcp.bench.BenchMain \
          netty-echo --addr 127.0.0.1:$PORT --transport epoll --read-idle-seconds 300 > $O/server.log 2>&1 &
      fi
      PID=$!
      for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
      taskset -c 1 stcp-bench/target/native/loadgen --addr 127.0.0.1:$PORT --warmup 6s --duration 6s --server-pid $PID \
        --connections $load --in-flight 1 --size 64 > $O/gen.out 2>&1 &
      GEN=$!
      sleep 3; $J/jcmd $PID GC.run > /dev/null 2>&1
      wait $GEN
      echo "${load}x1 round $r $name $(grep '^result' $O/gen.out | tr ' ' '\n' | grep -E '^(msgs_per_s|p99_us|server_cpu_us_per_msg|others_busy)=' | tr '\n' ' ')"
      kill $PID; wait $PID 2>/dev/null
    done
  done
done
