#!/usr/bin/env bash
# Compares our wire format with Apache RocketMQ's own: resolves Apache's rocketmq-remoting
# (version pinned in tests/wire/pom.xml) with Maven, runs JavaWireFrames.java to print the
# frames Java encodes, then runs the Rust test crates/protocol/tests/java_wire.rs that builds
# the same commands with our codec and compares them field by field (and decodes Java's),
# and last has Java decode our frames and checks it read what we meant.
#
# Downloads go to Maven's local repository (~/.m2), so only the first run fetches anything;
# the classpath and the Java output are written under target/wire and remade every run.
# Needs Java 17+ and Maven on PATH. Usage: bash tests/wire/run.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="target/wire"
mkdir -p "$OUT"

# Maven's own output (terminal escapes even when quiet) is shown only if it fails.
if ! mvn --batch-mode --quiet --file tests/wire/pom.xml \
    dependency:build-classpath -Dmdep.outputFile="$PWD/$OUT/classpath.txt" >"$OUT/maven.log" 2>&1; then
    cat "$OUT/maven.log" >&2
    echo "Maven could not resolve tests/wire/pom.xml (log above)" >&2
    exit 1
fi
java -cp "$(cat "$OUT/classpath.txt")" tests/wire/JavaWireFrames.java >"$OUT/java-frames.txt"
echo "Java encoded $(grep -c . "$OUT/java-frames.txt") lines into $OUT/java-frames.txt"

# Our frames against Java's; writes ours for Java to read.
ROCKETMQ_JAVA_WIRE_FRAMES="$PWD/$OUT/java-frames.txt" ROCKETMQ_OUR_WIRE_FRAMES="$PWD/$OUT/our-frames.txt" \
    cargo test --quiet -p rocketmq-protocol --test java_wire -- --ignored --exact \
    our_frames_match_apache_rocketmq_field_by_field
# Java reads ours; the Rust test checks it read what we meant.
java -cp "$(cat "$OUT/classpath.txt")" tests/wire/JavaWireFrames.java decode "$OUT/our-frames.txt" \
    >"$OUT/java-read-ours.txt"
ROCKETMQ_JAVA_READ_OURS="$PWD/$OUT/java-read-ours.txt" \
    cargo test --quiet -p rocketmq-protocol --test java_wire -- --ignored --exact \
    apache_rocketmq_reads_our_frames_as_we_mean_them
