#!/bin/bash
# irq.sh JAR|netty C F S TAG: like run.sh, plus the interrupts of both CPUs (RES, CAL) during the window, per message
set -u
WARM=${WARM:-4}; DUR=${DUR:-5}
snap() { awk '/^ *(RES|CAL|LOC):/{printf "%s %s %s ", $1, $2, $3}' /proc/interrupts; }
( sleep $((WARM+1)); snap > /tmp/irq.a; sleep $((DUR-2)); snap > /tmp/irq.b ) &
SN=$!
l=$(WARM=${WARM}s DUR=${DUR}s "$(dirname "$0")"/../2026-12-02/run.sh "$@" | tail -1)
wait $SN
python3 - "$l" <<'PY'
import sys
l=sys.argv[1]; m=dict(x.split('=') for x in l.split() if '=' in x)
a=open('/tmp/irq.a').read().split(); b=open('/tmp/irq.b').read().split()
rate=float(m['msgs_per_s']); import os
secs=int(os.environ.get('DUR','5'))-2
out=[]
for i in range(0,len(a),3):
    for c in (1,2):
        out.append('%s%d=%.3f'%(a[i].rstrip(':'),c-1,(int(b[i+c])-int(a[i+c]))/secs/rate))
print('msgs/s=%.0f cpu_us=%s lg_busy=%s p99=%s %s'%(rate,m['server_cpu_us_per_msg'],m.get('loadgen_busy'),m['p99_us'],' '.join(out)))
PY
