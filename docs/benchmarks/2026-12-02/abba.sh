#!/bin/bash
# abba.sh PAIRS C F S "labA|jarA|opts" "labB|jarB|opts": A B B A ... ; per-pair CPU differences and medians
P=$1; C=$2; F=$3; S=$4; A=$5; B=$6
mkdir -p "${OUT:-/tmp}"
: > ${OUT:-/tmp}/abba.out
one() { IFS="|" read -r lab jar opts <<< "$1"; l=$(WARM=${WARM:-3s} DUR=${DUR:-5s} "$(dirname "$0")"/run.sh $jar $C $F $S abba $opts | tail -1); echo "$lab $(echo "$l" | grep -o 'msgs_per_s=[0-9.]*\|server_cpu_us_per_msg=[0-9.]*\|p99_us=[0-9]*' | tr '\n' ' ')" | tee -a ${OUT:-/tmp}/abba.out; }
for p in $(seq $P); do if [ $((p % 2)) = 1 ]; then one "$A"; one "$B"; else one "$B"; one "$A"; fi; done
python3 - "${OUT:-/tmp}/abba.out" <<'PY'
import statistics, sys
rows=[l.split() for l in open(sys.argv[1])]
d={}
for r in rows:
    m=dict(x.split('=') for x in r[1:]); d.setdefault(r[0],[]).append((float(m['msgs_per_s']),float(m['server_cpu_us_per_msg']),float(m['p99_us'])))
labs=list(d)
for w in labs:
    v=d[w]; print('%-8s median msg/s %7.0f  us/msg %6.2f  p99 %6.0f  (cpu: %s)'%(w,statistics.median(x[0] for x in v),statistics.median(x[1] for x in v),statistics.median(x[2] for x in v),' '.join('%.2f'%x[1] for x in v)))
a,b=labs[0],labs[1]
diff=[d[b][i][1]-d[a][i][1] for i in range(min(len(d[a]),len(d[b])))]
print('cpu %s - %s per pair: %s  median %.2f  (%d of %d lower)'%(b,a,' '.join('%+.2f'%x for x in diff),statistics.median(diff),sum(1 for x in diff if x<0),len(diff)))
PY
