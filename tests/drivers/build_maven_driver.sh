#!/usr/bin/env bash
# Builds one Java test driver (a small Maven project under tests/drivers/, given as the first
# argument) and prints, as its last line, the class path to run it with: target/classes plus
# the dependency jars in the local Maven repository (~/.m2, which keeps the downloads between
# runs). The drivers' own build.sh scripts call it.
#
# What must stay true: a second run with unchanged sources builds nothing (the sources' hash
# is kept next to the build); Maven works offline first and goes to the network only when
# the local repository lacks something, so a warm ~/.m2 needs no network at all.
set -euo pipefail

cd "$1"
NAME="$(basename "$(pwd)")"
TARGET=target
STAMP="$TARGET/source-hash"

source_hash() {
    { sha256sum pom.xml; find src -type f -print0 | sort -z | xargs -0 sha256sum; java -version 2>&1; } \
        | sha256sum | cut -d' ' -f1
}

wanted="$(source_hash)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ] || [ ! -f "$TARGET/classpath.txt" ]; then
    mkdir -p "$TARGET"
    rm -f "$STAMP"
    MVN=(mvn -B -q --no-transfer-progress -Dstyle.color=never -Dmaven.compiler.useIncrementalCompilation=false)
    if ! "${MVN[@]}" -o compile >"$TARGET/offline-build.log" 2>&1; then
        echo "$NAME driver: offline build not possible, resolving from Maven Central" >&2
        "${MVN[@]}" compile >&2
    fi
    echo "$wanted" >"$STAMP"
fi
echo "$(pwd)/$TARGET/classes:$(cat "$TARGET/classpath.txt")"
