#!/usr/bin/env bash
# Builds the Java test driver (Apache's remoting Java client rocketmq-client in a small Maven
# project) and prints, as its last line, the class path to run it with (see
# ../build_maven_driver.sh: rebuilt only when its sources change, ~/.m2 first).
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../build_maven_driver.sh" "$(dirname "${BASH_SOURCE[0]}")"
