#!/bin/bash
# usage: run.sh JAR LABEL  -> prints RSS before/after and NMT diff
JAR=$1; LABEL=$2; PORT=$((20000 + RANDOM % 20000))
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
$J/java -Xms256m -Xmx4g -XX:NativeMemoryTracking=summary -jar $JAR echo --addr 127.0.0.1:$PORT --max-conn 0 > /tmp/idlebis/$LABEL.server.log 2>&1 &
PID=$!
for i in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
$J/jcmd $PID GC.run >/dev/null; sleep 2
$J/jcmd $PID VM.native_memory baseline >/dev/null
B=$(grep VmRSS /proc/$PID/status | tr -dc 0-9)
python3 /tmp/idlebis/conns.py $PORT 10000 /tmp/idlebis/$LABEL.go &
CP=$!
while [ ! -f /tmp/idlebis/$LABEL.go ]; do sleep 0.5; done
$J/jcmd $PID GC.run >/dev/null; sleep 2
A=$(grep VmRSS /proc/$PID/status | tr -dc 0-9)
echo "$LABEL rss before $B after $A per-conn-KiB $(( (A-B)*10/10000 ))e-1"
$J/jcmd $PID VM.native_memory summary.diff | grep -E "^-|committed=" | grep -E "\+[0-9]" | head -30
kill $CP; kill $PID; wait 2>/dev/null
rm -f /tmp/idlebis/$LABEL.go
