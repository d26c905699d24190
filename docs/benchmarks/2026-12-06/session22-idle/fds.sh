#!/bin/bash
JAR=$1; PORT=$((20000 + RANDOM % 20000)); J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
$J/java -jar $JAR echo --addr 127.0.0.1:$PORT --max-conn 0 --transport ${2:-auto} >/dev/null 2>&1 & P=$!
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
sleep 1; B=$(ls -l /proc/$P/fd | grep -c socket)
python3 -c "
import socket,struct,time
ss=[]
for i in range(200):
    s=socket.socket(); s.connect(('127.0.0.1',$PORT)); s.sendall(struct.pack('>iq',8,i)); g=b''
    while len(g)<12: g+=s.recv(12-len(g))
    ss.append(s)
time.sleep(2)
import os; print('$JAR', 'sockets per conn', (int(os.popen('ls -l /proc/$P/fd | grep -c socket').read())-$B)/200)
"
kill $P; wait $P 2>/dev/null
