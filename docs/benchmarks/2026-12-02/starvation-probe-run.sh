#!/bin/bash
# run.sh MODE [clients] ; env CORE=jarsdir
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin
CP=${CPX:-$(cat /tmp/probe/cp.txt)}:/tmp/probe
exec timeout 120 $J/java -Xmx512m -Djdk.virtualThreadScheduler.parallelism=1 --enable-native-access=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED -Dio.stcp.transport=epoll --add-opens java.base/java.lang=ALL-UNNAMED $JOPTS -cp $CP StarvationProbe "$@"
