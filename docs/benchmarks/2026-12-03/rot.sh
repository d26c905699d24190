#!/bin/bash
# rot.sh ROUNDS C F S "lab|jar|opts" ... : each round runs every config, order reversed on odd rounds; per-config medians and per-round differences to the first
R=$1; C=$2; F=$3; S=$4; shift 4
CFG=("$@")
mkdir -p "${OUT:-/tmp}"; : > ${OUT:-/tmp}/rot.out
one() { IFS="|" read -r lab jar opts <<< "$1"; l=$(WARM=${WARM:-4s} DUR=${DUR:-6s} "$(dirname "$0")"/../2026-12-02/run.sh $jar $C $F $S rot $opts | tail -1); echo "$2 $lab $(echo "$l" | grep -o 'msgs_per_s=[0-9.]*\|server_cpu_us_per_msg=[0-9.]*\|p99_us=[0-9]*' | tr '\n' ' ')" | tee -a ${OUT:-/tmp}/rot.out; }
for r in $(seq $R); do
  if [ $((r % 2)) = 1 ]; then for c in "${CFG[@]}"; do one "$c" $r; done; else for ((i=${#CFG[@]}-1; i>=0; i--)); do one "${CFG[$i]}" $r; done; fi
done
python3 - "${OUT:-/tmp}/rot.out" <<'PY'
import statistics, sys
d={}; order=[]
for l in open(sys.argv[1]):
    r=l.split(); m=dict(x.split('=') for x in r[2:])
    if r[1] not in d: order.append(r[1])
    d.setdefault(r[1],{})[r[0]]=(float(m['msgs_per_s']),float(m['server_cpu_us_per_msg']),float(m['p99_us']))
base=order[0]
for w in order:
    v=list(d[w].values())
    line='%-8s median msg/s %7.0f  us/msg %6.2f  p99 %6.0f'%(w,statistics.median(x[0] for x in v),statistics.median(x[1] for x in v),statistics.median(x[2] for x in v))
    if w!=base:
        diff=[d[w][k][1]-d[base][k][1] for k in d[w] if k in d[base]]
        rat=[d[w][k][0]/d[base][k][0] for k in d[w] if k in d[base]]
        line+='  cpu-%s: %s median %+.2f (%d of %d lower)  ratio median %.3f'%(base,' '.join('%+.2f'%x for x in diff),statistics.median(diff),sum(1 for x in diff if x<0),len(diff),statistics.median(rat))
    print(line)
PY
