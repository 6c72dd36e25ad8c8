#!/usr/bin/env bash
# Builds the Java 5.x test driver (Apache's gRPC client rocketmq-client-java in a small Maven
# project) and prints, as its last line, the class path to run it with (see
# ../build_maven_driver.sh: rebuilt only when its sources change, ~/.m2 first).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../build_maven_driver.sh" "$(dirname "${BASH_SOURCE[0]}")"
