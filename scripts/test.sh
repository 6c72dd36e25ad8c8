#!/usr/bin/env bash
# Installs everything the tests need and runs every test: Rust format/lint/unit tests, then the
# Python tests (our package built with maturin into .venv) and the interop tests against the
# reference C++ client (PyPI rocketmq==0.4.4, kept apart in .venv-cpp because it installs a
# package also named `rocketmq`), against Apache's Go client (tests/drivers/go, modules from the
# Go module cache) and Java client (tests/drivers/java, built with Maven into ~/.m2, rebuilt
# only when its sources change), the frame comparison with Apache RocketMQ's own Java encoder
# (tests/wire), then the client suites again against Apache RocketMQ's own name server and
# broker (5.5.0, with its proxy for the harness's proxy tests; the jars resolved by Maven once
# and cached outside the repository), the differential tests (the same requests to both
# brokers), a subset covering every 4.x API feature once against the last 4.9.x broker, and
# the pytest plugin's example test file three times: with the broker the plugin starts,
# against a separate rocketmq-broker process, and against Apache's name server and broker.
# The built abi3 wheel is also installed into CPython 3.9-3.13 (pyenv's, where present; a
# missing one is skipped with a warning) and the Python tests run on each, and the sdist is
# pip-installed (scripts/python_versions.sh).
# The RocketMQ 5 (gRPC) interop tests run the official rocketmq-python-client (pinned, in its
# own .venv-v5) and Apache's Java 5.x client (tests/drivers/java5) against our broker's gRPC
# endpoint in the first pytest run and against Apache's proxy in the Apache run.
# Needs python3, cargo, Go, Java 17+ and Maven.
# One command for a fresh machine and for CI: bash scripts/test.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"
START=$(date +%s)

section() {
    printf '\n==== %s (%ss elapsed) ====\n' "$1" "$(($(date +%s) - START))"
}

# The first line a command prints (stdout and stderr). Not `cmd | head -n 1`: under pipefail
# that fails whenever head closes the pipe before the command has written everything (Maven
# then exits 1, and this script with it).
first_line() {
    local out
    out="$("$@" 2>&1)"
    printf '%s\n' "${out%%$'\n'*}"
}

section "toolchain"
cargo --version
rustc --version
"$PYTHON" --version
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 9):
    sys.exit("Python 3.9 or newer is required, found " + sys.version.split()[0])
PY

section "python environment .venv (our package)"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "maturin==1.16.*" pytest pytest-timeout ruff mypy

section "reference C++ client environment .venv-cpp (rocketmq==0.4.4)"
if [ ! -x .venv-cpp/bin/python ]; then
    "$PYTHON" -m venv .venv-cpp
fi
.venv-cpp/bin/python -m pip install --quiet "rocketmq==0.4.4"
.venv-cpp/bin/python -c "import rocketmq.client; print('reference client imports:', rocketmq.client.__file__)"

section "official RocketMQ 5.x client environment .venv-v5 (rocketmq-python-client==5.1.2)"
# The pin is V5_CLIENT in tests/interop/official_v5.py: keep both in step.
if [ ! -x .venv-v5/bin/python ]; then
    "$PYTHON" -m venv .venv-v5
fi
.venv-v5/bin/python -m pip install --quiet "rocketmq-python-client==5.1.2"
export ROCKETMQ_V5_PYTHON="$ROOT/.venv-v5/bin/python"

section "cargo fmt --check"
cargo fmt --all --check

section "ruff (python lint and format check)"
.venv/bin/ruff check python tests
.venv/bin/ruff format --check python tests

section "house rules (no source file over 700 lines, no import circle between files)"
"$PYTHON" scripts/check_structure.py

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo test"
cargo test --workspace

section "wire format against Apache RocketMQ's own encoder (tests/wire, Java + Maven, ~/.m2 cached)"
bash tests/wire/run.sh

section "build and install the rocketmq package (maturin develop --release)"
VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" .venv/bin/maturin develop --release
.venv/bin/python -c "import rocketmq, rocketmq._rocketmq; print('rocketmq', rocketmq.__version__)"

section "type stubs (mypy.stubtest against the built module)"
.venv/bin/python -m mypy.stubtest rocketmq

section "one abi3 wheel on CPython 3.9-3.13, auditwheel, sdist (scripts/python_versions.sh)"
bash scripts/python_versions.sh

section "Go client driver (Apache rocketmq-client-go, built only when its sources changed)"
go version
ROCKETMQ_GO_DRIVER="$(bash tests/drivers/go/build.sh)"
export ROCKETMQ_GO_DRIVER
echo "go driver: $ROCKETMQ_GO_DRIVER"

section "Java client driver (Apache rocketmq-client via Maven; cached in ~/.m2, rebuilt only on change)"
first_line java -version
first_line mvn -version
bash tests/drivers/java/build.sh >/dev/null
echo "Java driver ready (tests/interop/test_java_client.py runs it in the pytest step)"
bash tests/drivers/java5/build.sh >/dev/null
echo "Java 5.x driver ready (tests/interop/test_java5_client.py, rocketmq-client-java over gRPC)"

section "pytest (python and interop tests)"
status=0
ROCKETMQ_CPP_PYTHON="$ROOT/.venv-cpp/bin/python" .venv/bin/python -m pytest || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure, not a pass" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "pytest failed with exit status $status" >&2
    exit "$status"
fi

section "pytest plugin example (examples/test_pytest_plugin.py): bundled broker, then a rocketmq-broker process"
.venv/bin/python tests/plugin/run_example.py bundled
.venv/bin/python tests/plugin/run_example.py process

section "Apache RocketMQ artifacts, 5.5.0 and 4.9.x (Maven Central once, then the cache ~/.cache/rocketmq-tests)"
first_line java -version
.venv/bin/python scripts/apache_rocketmq.py prepare

section "pytest against Apache RocketMQ 5.5.0's name server, broker and proxy (ROCKETMQ_TEST_BROKER=apache)"
status=0
# tests/interop/test_java_pop.py: Apache's Java client in POP mode, proved against Apache's broker.
# tests/interop/*v5*.py: the RocketMQ 5 gRPC clients (official Python, Java 5.x) through Apache's
# proxy, which proves their flow scripts and checks; test_v5_flows_remoting.py: our 5.x API
# straight to Apache's broker over remoting (no proxy).
ROCKETMQ_TEST_BROKER=apache ROCKETMQ_CPP_PYTHON="$ROOT/.venv-cpp/bin/python" \
    .venv/bin/python -m pytest tests/apache tests/python tests/scenarios tests/differential \
    tests/interop/test_java_pop.py \
    tests/interop/test_official_v5_client.py tests/interop/test_java5_client.py \
    tests/interop/test_v5_cross_protocol.py tests/interop/test_v5_flows_our_api.py \
    tests/interop/test_v5_flows_remoting.py || status=$?
if [ "$status" -ne 0 ]; then
    echo "pytest against Apache RocketMQ failed with exit status $status" >&2
    exit "$status"
fi

section "pytest plugin example against Apache RocketMQ's name server and broker (--rocketmq-namesrv)"
.venv/bin/python tests/plugin/run_example.py apache

section "pytest against Apache RocketMQ 4.9.x: every 4.x API feature once (ROCKETMQ_TEST_BROKER=apache4)"
# Send modes, pull, tag filter (pull side), push rebalance, broadcasting, orderly, retries,
# transactions with check-back (tests/python); delay levels, DLQ, push-side tag filter and the
# harness itself (tests/apache); our client, the reference C++ client and both in one group
# (tests/scenarios); reset by time (4.9 pushes the reset to live consumers, and refuses it for a
# group with none online: the admin falls back to per-queue commits). About a minute and a half
# warm.
status=0
ROCKETMQ_TEST_BROKER=apache4 ROCKETMQ_CPP_PYTHON="$ROOT/.venv-cpp/bin/python" \
    .venv/bin/python -m pytest tests/apache \
    tests/python/test_client.py::test_send_kinds_and_pull_back_byte_for_byte \
    tests/python/test_client.py::test_three_push_consumers_share_a_group_and_survive_one_leaving \
    tests/python/test_client.py::test_broadcasting_delivers_everything_to_everyone \
    tests/python/test_client.py::test_orderly_per_sharding_key_with_two_consumers \
    tests/python/test_client.py::test_pull_generator_with_overridden_offset_store \
    tests/python/test_client.py::test_failed_messages_are_redelivered_with_reconsume_times \
    tests/python/test_client_transaction.py::test_outcomes_of_local_transactions_and_check_backs \
    tests/python/test_asyncio.py::test_send_and_send_many_store_every_message_in_order \
    tests/scenarios/test_scenarios.py::test_a_joining_member_resumes_where_the_group_left_off \
    tests/scenarios/test_scenarios.py::test_broadcasting_every_consumer_gets_everything \
    tests/scenarios/test_scenarios.py::test_mixed_group_of_both_implementations_shares_and_rebalances \
    tests/python/test_reset_offset.py::test_a_live_group_moved_back_to_a_time_gets_exactly_the_messages_stored_since \
    tests/python/test_reset_offset.py::test_a_group_with_no_consumer_online_is_reset_and_starts_there \
    || status=$?
if [ "$status" -ne 0 ]; then
    echo "pytest against Apache RocketMQ 4.9 failed with exit status $status" >&2
    exit "$status"
fi

section "all tests passed"
