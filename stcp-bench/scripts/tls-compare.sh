#!/usr/bin/env bash
# TLS side by side: stcp (epoll transport, JDK SSLEngine) against Netty's SslHandler on the JDK
# provider and on OpenSSL (netty-tcnative BoringSSL), same EC P-256 certificate, TLS 1.3, the same
# load generator for all: the C one on OpenSSL (stcp-bench/target/native/loadgen-tls, built when
# gcc and OpenSSL's headers are there: Debian's libssl-dev) or, without it, the Java one (a Netty
# client on OpenSSL) with a warning; the handshake load always takes the Java one (it reconnects).
# Server pinned to CPU 0, load generator to CPU 1; servers alternate within each round; every run
# is bounded (warm-up + measured window); prints one CSV row per run and the medians.
#
#   bash stcp-bench/scripts/tls-compare.sh [ROUNDS] [WARMUP] [DURATION]     (from the repository root,
#   after mvn -B package -DskipTests; 24 runs per round of WARMUP + DURATION + ~4 s)
#   LOADS="16K-100x4 1M-100x1" bash stcp-bench/scripts/tls-compare.sh ...   (only those loads)
#   JVM_OPTS="-XX:+UseG1GC" bash stcp-bench/scripts/tls-compare.sh ...      (for every server: a JVM
#   pinned to one CPU picks the Serial collector by itself)
#   SETTLE=0 bash stcp-bench/scripts/tls-compare.sh ...                     (no full collection half-way
#   through each warm-up; WARMUP in seconds, e.g. 5s, for the half to be found)
#   SERVERS="head=/tmp/a.jar new=/tmp/b.jar netty-jdk" bash ...             (which servers, in this order
#   in each round; NAME=JAR is stcp's echo from that jar, named NAME in the results)
#   GEN=java bash stcp-bench/scripts/tls-compare.sh ...                    (the Java generator even where
#   the C one is built)
#   TLS_SUITES=TLS_AES_128_GCM_SHA256 bash ...                              (the C generator offers only
#   these TLS 1.3 suites: servers that prefer different ones then use the same; the suite each run
#   negotiated is in gen-err)
set -euo pipefail
ROUNDS=${1:-3}
WARMUP=${2:-6s}
DURATION=${3:-8s}
JAVA=${JAVA:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)/bin/java}
OUT=${OUT:-bench-results/tls-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
CERTS=$OUT/certs
mkdir -p "$CERTS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout "$CERTS/key.pem" \
    -out "$CERTS/cert.pem" -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
CSV=$OUT/runs.csv
PORT=9700
C_GEN=stcp-bench/target/native/loadgen-tls
if [ "${GEN:-c}" = c ] && [ ! -x "$C_GEN" ]; then
  echo "WARNING: $C_GEN was not built (gcc or OpenSSL's headers missing: see the build's compile-c step);" \
       "the Java generator is used, which is near its own limit at 64 B x 16" >&2
fi
if [ -n "${TLS_SUITES:-}" ]; then
  echo "TLS_SUITES=$TLS_SUITES: offered by the C generator only (not by the Java one, nor at handshake-100)" >&2
fi

start_server() { # name port cumulator -> sets SERVER_PID
  local name=$1 port=$2 cumulator=$3
  case $name in
    stcp|*=*) local jar=stcp-examples/target/stcp-examples.jar
            if [[ $name == *=* ]]; then jar=${name#*=}; name=${name%%=*}; fi
            taskset -c 0 "$JAVA" ${JVM_OPTS:-} -jar "$jar" echo --addr 127.0.0.1:$port \
            --tls-cert "$CERTS/cert.pem" --tls-key "$CERTS/key.pem" > "$OUT/server-$name.log" 2>&1 & ;;
    netty-jdk|netty-openssl) taskset -c 0 "$JAVA" ${JVM_OPTS:-} --enable-native-access=ALL-UNNAMED -cp stcp-bench/target/stcp-bench.jar \
            io.stcp.bench.BenchMain netty-echo --addr 127.0.0.1:$port --tls-cert "$CERTS/cert.pem" \
            --tls-key "$CERTS/key.pem" --tls-provider "${name#netty-}" --cumulator "$cumulator" \
            > "$OUT/server-$name.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "server $name did not listen" >&2; return 1
}

settle() { # server pid: a full collection half-way through the warm-up, as compare does (SETTLE=0: none)
  [ "${SETTLE:-1}" = 0 ] && return 0
  local half
  half=$(awk -v w="${WARMUP%s}" 'BEGIN { print w / 2 }')
  (sleep "$half"; "$(dirname "$JAVA")/jcmd" "$1" GC.run > /dev/null 2>&1 || true) &
}

run() { # load-label server round args...
  local load=$1 spec=$2 round=$3; shift 3
  local server=${spec%%=*}
  PORT=$((PORT + 1))
  local cumulator=merge # what a Netty user would choose for the frame size (as compare does)
  case $load in 1M-*) cumulator=composite ;; esac
  start_server "$spec" $PORT $cumulator
  settle "$SERVER_PID"
  local label="$load|$server|$round" gen=java gen_us=nan
  if [ "${GEN:-c}" = c ] && [ -x "$C_GEN" ] && [ "$load" != handshake-100 ]; then gen=c; fi
  if [ $gen = c ]; then
    local args=() a # the C generator keeps K in flight as --pipelined does, and has no such option
    for a in "$@"; do [ "$a" = --pipelined ] || args+=("$a"); done
    /usr/bin/time -f "%U %S %e" -o "$OUT/gen-time" taskset -c 1 "$C_GEN" --addr 127.0.0.1:$PORT \
        --tls-ca "$CERTS/cert.pem" ${TLS_SUITES:+--tls-ciphersuites "$TLS_SUITES"} --warmup "$WARMUP" \
        --duration "$DURATION" --server-pid "$SERVER_PID" "${args[@]}" > "$OUT/gen-out" 2> "$OUT/gen-err-1" || true
    sed "s/^/$label: /" "$OUT/gen-err-1" >> "$OUT/gen-err"
    python3 - "$CSV" "$label" "$OUT/gen-out" <<'PY'
import os, sys
csv, label, out = sys.argv[1:]
keys = "connections,messages,seconds,msgs_per_s,p50_us,p90_us,p99_us,p999_us,max_us,errors,server_cpu_us_per_msg,server_syscalls_per_msg".split(",")
lines = [l.split() for l in open(out) if l.startswith("result ")]
if lines:
    f = dict(w.split("=", 1) for w in lines[-1][1:])
    new = not os.path.exists(csv)
    with open(csv, "a") as w:
        if new:
            w.write("label,in_flight,pipelined," + ",".join(keys) + "\n")
        w.write(f"{label},,," + ",".join(f[k] for k in keys) + "\n")
PY
    gen_us=$(sed -n 's/.* loadgen_cpu_us_per_msg=\([^ ]*\).*/\1/p' "$OUT/gen-out")
  else
    /usr/bin/time -f "%U %S %e" -o "$OUT/gen-time" taskset -c 1 "$JAVA" --enable-native-access=ALL-UNNAMED \
        -jar stcp-loadgen/target/stcp-loadgen.jar --addr 127.0.0.1:$PORT --tls-ca "$CERTS/cert.pem" --tls-openssl \
        --warmup "$WARMUP" --duration "$DURATION" --quiet --server-pid "$SERVER_PID" \
        --csv "$CSV" --label "$label" "$@" > /dev/null || true
  fi
  read -r u s e < "$OUT/gen-time"
  echo "$label,$gen,$(awk -v u="$u" -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", (u + s) / e }'),${gen_us:-nan}" >> "$OUT/gen-cpu.csv"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  tail -1 "$CSV"
}

ALL_LOADS="64B-100x1 64B-100x16 16K-100x1 16K-100x4 16K-100x16 1M-100x1 1M-100x4 handshake-100"
for load in ${LOADS:-}; do
  case " $ALL_LOADS " in *" $load "*) ;; *) echo "unknown load $load (expected one of: $ALL_LOADS)" >&2; exit 2 ;; esac
done
for round in $(seq 1 "$ROUNDS"); do
  for load in ${LOADS:-$ALL_LOADS}; do
    for server in ${SERVERS:-stcp netty-jdk netty-openssl}; do
      case $load in
        64B-100x1) run $load $server $round --connections 100 --in-flight 1 --size 64 ;;
        64B-100x16) run $load $server $round --connections 100 --in-flight 16 --size 64 --pipelined ;;
        16K-100x1) run $load $server $round --connections 100 --in-flight 1 --size 16384 ;;
        16K-100x4) run $load $server $round --connections 100 --in-flight 4 --size 16384 --pipelined ;;
        16K-100x16) run $load $server $round --connections 100 --in-flight 16 --size 16384 --pipelined ;;
        1M-100x1) run $load $server $round --connections 100 --in-flight 1 --size 1048576 ;;
        1M-100x4) run $load $server $round --connections 100 --in-flight 4 --size 1048576 --pipelined ;;
        handshake-100) run $load $server $round --connections 100 --size 64 --reconnect ;;
      esac
    done
  done
done

# Medians per load and server: msgs/s, p99 µs, server CPU µs per message, generator CPU share;
# with the C generator also its own CPU per message, and how many times cheaper per message it was
# than the server (the headroom: at least 1.5 for the run to measure the server, not the generator).
python3 - "$CSV" "$OUT/gen-cpu.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
gen = {}
for line in open(sys.argv[2]):
    label, kind, share, us = line.strip().split(",")
    gen[label] = (kind, float(share), float(us))
by = {}
for r in rows:
    load, server, rnd = r["label"].split("|")
    kind, share, us = gen.get(r["label"], ("?", float("nan"), float("nan")))
    cpu = float(r["server_cpu_us_per_msg"])
    by.setdefault((load, server, kind), []).append((float(r["msgs_per_s"]), int(r["p99_us"]), cpu, share, us, cpu / us,
                                                    int(r["errors"])))
print("| load | server | generator | msgs/s (median) | p99 µs | server CPU µs/msg | generator CPU share | generator µs/msg | headroom | errors | runs |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (load, server, kind), v in by.items():
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"| {load} | {server} | {kind} | {med(0):,.0f} | {med(1):,.0f} | {med(2):.2f} | {med(3):.2f} | {med(4):.2f} | {med(5):.2f} | {sum(x[6] for x in v)} | {len(v)} |")
PY
