#!/usr/bin/env bash
# What stcp's echo allocates per message at 1000x1 (64 B), by class and by allocation site: JFR's
# TLAB events (4 KiB TLABs, not resized, so that the TLAB sizes weigh the sites fairly) over 3 s of
# the C generator's run. Run from the repository after a build; loopback only.
#   docs/benchmarks/2026-12-05/session14-1000x1/alloc-per-message.sh [PORT]
set -u
D=$(dirname "$0"); PORT=${1:-19520}; J=/usr/lib/jvm/temurin-25-jdk-amd64/bin; T=$(mktemp -d)
taskset -c 0 $J/java -XX:TLABSize=4k -XX:-ResizeTLAB --enable-native-access=ALL-UNNAMED -jar stcp-examples/target/stcp-examples.jar echo --addr 127.0.0.1:$PORT > $T/server.log 2>&1 &
PID=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
taskset -c 1 stcp-bench/target/native/loadgen --addr 127.0.0.1:$PORT --warmup 8s --duration 6s --server-pid $PID --connections 1000 --in-flight 1 --size 64 > $T/gen.out &
G=$!
sleep 10; $J/jcmd $PID JFR.start name=a settings=$D/alloc.jfc filename=$T/a.jfr > /dev/null
sleep 3; $J/jcmd $PID JFR.stop name=a > /dev/null
wait $G; grep result $T/gen.out; kill $PID; wait $PID 2>/dev/null
$J/jfr print --json --events jdk.ObjectAllocationInNewTLAB,jdk.ObjectAllocationOutsideTLAB $T/a.jfr > $T/a.json
python3 - "$T/a.json" <<'PY'
import json, collections, sys
ev = json.load(open(sys.argv[1]))['recording']['events']
bycls = collections.Counter(); bysite = collections.Counter()
for e in ev:
    v = e['values']; w = v.get('tlabSize') or v.get('allocationSize')
    bycls[v['objectClass']['name']] += w
    fr = v['stackTrace']['frames'] if v.get('stackTrace') else []
    site = [f['method']['type']['name'].split('/')[-1] + '.' + f['method']['name'] for f in fr[:8]]
    bysite[' < '.join(site)[:250]] += w
tot = sum(bycls.values())
for c, w in bycls.most_common(15): print('%5.1f%% %s' % (100*w/tot, c))
for s, w in bysite.most_common(15): print('%5.1f%% %s' % (100*w/tot, s))
PY
rm -rf "$T"
