#!/bin/bash
# usage: alloc.sh stcp|netty N PORT : heap used (incl. garbage) per connection, no GC during connect
WHAT=$1; N=$2; PORT=$3
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
cd /work/main
if [ $WHAT = netty ]; then
 $J/java -XX:+UseG1GC -Xms3g -Xmx3g -Xmn2g --enable-native-access=ALL-UNNAMED -cp stcp-bench/target/stcp-bench.jar io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --transport epoll --read-idle-seconds 300 > /tmp/vt/a-srv.log 2>&1 &
else
 $J/java -XX:+UseG1GC -Xms3g -Xmx3g -Xmn2g --enable-native-access=ALL-UNNAMED -jar ${JAR:-stcp-examples/target/stcp-examples.jar} echo --addr 127.0.0.1:$PORT --max-conn 0 > /tmp/vt/a-srv.log 2>&1 &
fi
S=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
python3 /tmp/vt/hold.py $PORT 500 /tmp/vt/ready0 & H0=$!
while [ ! -e /tmp/vt/ready0 ]; do sleep 0.2; done
$J/jcmd $S GC.run >/dev/null; sleep 1
u0=$($J/jcmd $S GC.heap_info | grep -o "used [0-9]*K" | head -1 | tr -dc 0-9)
rm -f /tmp/vt/ready1; python3 /tmp/vt/hold.py $PORT $N /tmp/vt/ready1 & H=$!
while [ ! -e /tmp/vt/ready1 ]; do sleep 0.2; done; sleep 1
u1=$($J/jcmd $S GC.heap_info | grep -o "used [0-9]*K" | head -1 | tr -dc 0-9)
$J/jcmd $S GC.heap_info | head -3
echo "$WHAT: allocated per connection: $(( (u1-u0)*1024/N )) B"
kill $H $H0 $S; rm -f /tmp/vt/ready0 /tmp/vt/ready1; wait 2>/dev/null
