#!/bin/bash
# usage: m.sh stcp|netty JAR LABEL [extra jvm opts...]
KIND=$1; JAR=$2; LABEL=$3; shift 3
PORT=$((20000 + RANDOM % 20000)); D=/tmp/idle-h; J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
if [ $KIND = stcp ]; then
  $J/java -Xms256m -Xmx4g -Xlog:gc*:file=$D/$LABEL.gc.log "$@" -jar $JAR echo --addr 127.0.0.1:$PORT --max-conn 0 --transport auto > $D/$LABEL.server.log 2>&1 &
else
  $J/java -Xms256m -Xmx4g -Xlog:gc*:file=$D/$LABEL.gc.log "$@" --enable-native-access=ALL-UNNAMED -cp /tmp/rig67/stcp-bench.jar io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --transport epoll > $D/$LABEL.server.log 2>&1 &
fi
PID=$!
for i in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
heaprss() { python3 -c "
import re,sys
t=0;h=False
for l in open('/proc/$PID/smaps'):
    m=re.match(r'([0-9a-f]+)-([0-9a-f]+) ',l)
    if m: a=int(m.group(1),16); h=0x700000000<=a<0x800000000
    elif h and l.startswith('Rss:'): t+=int(l.split()[1])
print(t)"; }
alloc() { $J/jcmd $PID Thread.print -e | grep -o 'allocated=[0-9]*[BKMG]' | python3 -c "
import sys
u=dict(B=1,K=1024,M=1<<20,G=1<<30)
print(sum(int(l.strip()[10:-1])*u[l.strip()[-1]] for l in sys.stdin))"; }
$J/jcmd $PID GC.run >/dev/null; sleep 2
B=$(grep VmRSS /proc/$PID/status | tr -dc 0-9); HB=$(heaprss); AB=$(alloc)
$J/jcmd $PID GC.heap_info > $D/$LABEL.hi0
python3 /tmp/idlebis/conns.py $PORT ${N:-10000} $D/$LABEL.go &
CP=$!
while [ ! -f $D/$LABEL.go ]; do sleep 0.5; done
AA=$(alloc); HM=$(heaprss); $J/jcmd $PID GC.heap_info > $D/$LABEL.hi1
$J/jcmd $PID GC.run >/dev/null; sleep 2
A=$(grep VmRSS /proc/$PID/status | tr -dc 0-9); HA=$(heaprss)
$J/jcmd $PID GC.heap_info > $D/$LABEL.hi2
echo "$LABEL rssKiB/conn $(echo "scale=2;($A-$B)/${N:-10000}"|bc) heapRss before=$HB mid=$HM after=$HA heapRssKiB/conn $(echo "scale=2;($HA-$HB)/${N:-10000}"|bc) allocB/conn $(( (AA-AB)/${N:-10000} )) youngGCs $(grep -c 'Pause Young' $D/$LABEL.gc.log)"
kill $CP; kill $PID; wait 2>/dev/null
rm -f $D/$LABEL.go
