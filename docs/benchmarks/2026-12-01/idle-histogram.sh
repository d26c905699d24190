#!/bin/bash
# The live heap per idle connection, class by class: the echo server of stcp (JAR = an
# stcp-examples.jar) or Netty's (JAR = netty) with 200 connections to warm up, a class histogram
# (GC.class_histogram, after a full GC), N more connections that each echo one 64-byte frame and
# stay open, a second histogram; prints the difference per connection. "Held by every connection"
# sums the classes with at least half an instance per connection, leaving out what a few
# connections held at that moment (a thread mid-read) and the shared read-buffer pool.
#
#   docs/benchmarks/2026-12-01/idle-histogram.sh JAR|netty [N] [PORT]
#
# Run from the repository after `mvn -B package -DskipTests`; needs JDK 25's java and jcmd
# (JAVA_HOME, default /usr/lib/jvm/temurin-25-jdk-amd64) and python3. Loopback only.
set -eu
WHAT=$1; N=${2:-10000}; PORT=${3:-31000}
JH=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$OUT"' EXIT
if [ "$WHAT" = netty ]; then
  "$JH/bin/java" -XX:+UseG1GC --enable-native-access=ALL-UNNAMED -cp stcp-bench/target/stcp-bench.jar \
    io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$PORT --transport epoll --cumulator merge > "$OUT/server.log" 2>&1 &
else
  "$JH/bin/java" -XX:+UseG1GC --enable-native-access=ALL-UNNAMED -jar "$WHAT" echo --addr 127.0.0.1:$PORT \
    > "$OUT/server.log" 2>&1 &
fi
SERVER=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

cat > "$OUT/hold.py" <<'PY'
import socket, struct, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
held = []
for _ in range(n):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(struct.pack('>I', 60) + b'x' * 60)
    held.append(s)
for s in held:
    got = b''
    while len(got) < 64:
        got += s.recv(64 - len(got))
open(ready, 'w').close()
time.sleep(600)
PY
hold() { # hold N connections until killed; returns once they have echoed
  python3 "$OUT/hold.py" $PORT "$1" "$OUT/ready" &
  local client=$!
  while [ ! -f "$OUT/ready" ]; do
    if ! kill -0 $client 2>/dev/null; then
      echo "the client failed to hold $1 connections (see above; out of ports while an earlier run's" \
           "sockets are in TIME_WAIT? wait a minute)" >&2
      exit 1
    fi
    sleep 0.2
  done
  rm "$OUT/ready"
}
hold 200
"$JH/bin/jcmd" $SERVER GC.class_histogram > "$OUT/h0"
hold "$N"
sleep 1
"$JH/bin/jcmd" $SERVER GC.class_histogram > "$OUT/h1"

python3 - "$OUT/h0" "$OUT/h1" "$N" <<'PY'
import re, sys
def histogram(path):
    d = {}
    for line in open(path):
        m = re.match(r'\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)', line)
        if m:
            name = re.sub(r'/0x[0-9a-f]+', '', m.group(3))  # one row per lambda class, whatever its address
            c, b = d.get(name, (0, 0))
            d[name] = (c + int(m.group(1)), b + int(m.group(2)))
    return d
h0, h1, n = histogram(sys.argv[1]), histogram(sys.argv[2]), int(sys.argv[3])
rows = []
for name, (c1, b1) in h1.items():
    c0, b0 = h0.get(name, (0, 0))
    rows.append(((b1 - b0) / n, (c1 - c0) / n, name))
rows.sort(reverse=True)
print("all classes: %.0f B per connection" % sum(r[0] for r in rows))
print("held by every connection: %.0f B per connection" % sum(r[0] for r in rows if r[1] >= 0.5))
print("| B per conn | instances per conn | class |\n|---|---|---|")
for b, c, name in rows:
    if c >= 0.5:
        print("| %.0f | %.2f | `%s` |" % (b, c, name))
PY
