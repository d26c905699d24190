#!/bin/bash
# ab.sh ROUNDS LOAD-ARGS... : stcp before/after the TLS partial-record change, alternating (ABBA), TLS handshake-style loads; CSV in /tmp/s46/ab/runs.csv
set -u
R=$1; shift; ARGS="$*"
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
C=/tmp/s46/tls-after/certs
CSV=/tmp/s46/ab/runs.csv
PORT=9900
cd /work/main
one() { # label jar round
  PORT=$((PORT+1))
  taskset -c 0 $J -jar $2 echo --addr 127.0.0.1:$PORT --tls-cert $C/cert.pem --tls-key $C/key.pem > /tmp/s46/ab/server.log 2>&1 &
  SP=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
  (sleep 2.5; /usr/lib/jvm/temurin-25-jdk-amd64/bin/jcmd $SP GC.run >/dev/null 2>&1) &
  taskset -c 1 $J --enable-native-access=ALL-UNNAMED -jar stcp-loadgen/target/stcp-loadgen.jar --addr 127.0.0.1:$PORT --tls-ca $C/cert.pem --tls-openssl \
      --warmup 5s --duration 6s --quiet --server-pid $SP --csv $CSV --label "$1|$3" $ARGS > /dev/null 2>&1
  kill $SP; wait $SP 2>/dev/null
  tail -1 $CSV
}
for r in $(seq $R); do
  if [ $((r % 2)) = 1 ]; then one before /tmp/s46/ab/before.jar $r; one after /tmp/s46/ab/after.jar $r
  else one after /tmp/s46/ab/after.jar $r; one before /tmp/s46/ab/before.jar $r; fi
done
