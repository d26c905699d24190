#!/bin/bash
# rot2.sh ROUNDS C F S lab=jar ... : alternating order; prints per-run msgs/s p99 p999 max worst-conn-p90 cpu
R=$1; C=$2; F=$3; S=$4; shift 4
CFG=("$@")
cd /work/main
O=${OUT:-/tmp/rot2}; mkdir -p $O; : > $O/rot.out
one() { lab=${1%%=*}; jar=${1#*=}; OUT=$O WARM=${WARM:-4s} DUR=${DUR:-6s} bash docs/benchmarks/2026-12-02/run.sh $jar $C $F $S r$2-$lab > /dev/null
  f=$(grep -h '^result\|^fairness' $O/r$2-$lab.lg.log | tr '\n' ' ')
  echo "$2 $lab $(echo "$f" | grep -o ' msgs_per_s=[0-9.]*\| p99_us=[0-9]*\| p999_us=[0-9]*\| max_us=[0-9]*\|conn_worst_us_p90=[0-9]*\|conn_msgs_min=[0-9]*\|server_cpu_us_per_msg=[0-9.]*' | tr '\n' ' ')" | tee -a $O/rot.out; }
for r in $(seq $R); do
  if [ $((r % 2)) = 1 ]; then for c in "${CFG[@]}"; do one "$c" $r; done; else for ((i=${#CFG[@]}-1; i>=0; i--)); do one "${CFG[$i]}" $r; done; fi
done
python3 - $O/rot.out <<'PY'
import statistics, sys
d={}; order=[]
for l in open(sys.argv[1]):
    r=l.split(); m=dict(x.split('=') for x in r[2:])
    if r[1] not in d: order.append(r[1])
    d.setdefault(r[1],{})[r[0]]={k:float(v) for k,v in m.items()}
base=order[0]
for w in order:
    v=list(d[w].values())
    med=lambda k: statistics.median(x[k] for x in v)
    line='%-8s msg/s %7.0f cpu %6.2f p99 %6.0f p999 %6.0f max %6.0f worstconn_p90 %6.0f minconn %6.0f'%(w,med('msgs_per_s'),med('server_cpu_us_per_msg'),med('p99_us'),med('p999_us'),med('max_us'),med('conn_worst_us_p90'),med('conn_msgs_min'))
    if w!=base:
        rat=[d[w][k]['msgs_per_s']/d[base][k]['msgs_per_s'] for k in d[w] if k in d[base]]
        line+='  ratio/%s %.3f'%(base,statistics.median(rat))
    print(line)
PY
