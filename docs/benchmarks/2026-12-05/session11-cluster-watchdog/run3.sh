#!/bin/bash
# usage: run3.sh rounds label:dir...
export PATH=/usr/lib/jvm/temurin-25-jdk-amd64/bin:$PATH
DEPS=$(cat /tmp/cbench/deps.txt)
R=$1; shift
for r in $(seq 1 $R); do
  for t in 1 4; do
    n=$((20000 / t))
    for v in "$@"; do
      l=${v%%:*}; d=${v#*:}
      echo -n "round=$r "; timeout 120 java -Xms256m -Xmx256m -cp /tmp/cbench/out:$d:$DEPS CutoffBench 16399 $t $n $l
    done
  done
done
