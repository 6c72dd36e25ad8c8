#!/usr/bin/env bash
# Runs every benchmark and prints the table: bash benchmarks/run.sh [bench.py options]
#
# Installs what it needs, like scripts/test.sh: our package (built with maturin into
# $BENCH_VENV, default .venv), the reference C++ client rocketmq==0.4.4 (in $BENCH_CPP_VENV,
# default .venv-cpp: both packages are named `rocketmq`, so they need separate virtualenvs),
# the broker load generator (benchmarks/loadgen, a standalone cargo package that is not a
# workspace member), and Apache RocketMQ's jars for the Apache rows (resolved once by Maven into
# ~/.cache/rocketmq-tests, as scripts/test.sh does; skipped with --no-apache). Then runs
# benchmarks/bench.py, which starts and stops its own brokers (ours and Apache's) on 127.0.0.1
# with ephemeral ports and temporary stores. Default run: about 8 minutes (3 without Apache),
# plus about 1.5 minutes of message index rows (benchmarks/index_bench.py, BENCH_INDEX_MESSAGES),
# half a minute of SQL92 filter rows (benchmarks/sql92_bench.py, BENCH_SQL92_MESSAGES)
# about 1 minute of POP rows (benchmarks/pop_bench.py, BENCH_POP_MESSAGES) and about 2 minutes
# of RocketMQ 5 client rows (benchmarks/v5_bench.py, BENCH_V5_MESSAGES).
#
# Our package is installed from a wheel (maturin build --release + pip install), not an
# editable `maturin develop`, so the run measures exactly what was built even if the source
# tree changes meanwhile.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${BENCH_VENV:-$ROOT/.venv}"
CPP_VENV="${BENCH_CPP_VENV:-$ROOT/.venv-cpp}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade "maturin==1.16.*"

if [ ! -x "$CPP_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$CPP_VENV"
fi
"$CPP_VENV/bin/python" -m pip install --quiet "rocketmq==0.4.4"

echo "building our package (maturin build --release)" >&2
WHEELS="$(mktemp -d)"
trap 'rm -rf "$WHEELS"' EXIT
CARGO_TARGET_DIR="$TARGET" "$VENV/bin/maturin" build --release --quiet -o "$WHEELS" \
    -i "$VENV/bin/python" >&2
"$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps "$WHEELS"/*.whl

echo "building the load generator (benchmarks/loadgen)" >&2
CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet \
    --manifest-path benchmarks/loadgen/Cargo.toml

case " $* " in
    *" --no-apache "*) ;;
    *)
        # Without Maven, Java or the network the Apache rows say so; the run goes on.
        "$VENV/bin/python" scripts/apache_rocketmq.py prepare >&2 ||
            echo "Apache RocketMQ could not be prepared; its rows will say why" >&2
        ;;
esac

# Run from benchmarks/ so the installed package is imported, not the source tree's python/.
cd benchmarks

# The message index rows (index_bench.py): send throughput with the index on and off, and key
# queries among BENCH_INDEX_MESSAGES stored messages (default 1000000; 0 skips the rows).
INDEX_MESSAGES="${BENCH_INDEX_MESSAGES:-1000000}"
if [ "$INDEX_MESSAGES" != "0" ]; then
    "$VENV/bin/python" index_bench.py --loadgen "$TARGET/release/rocketmq-loadgen" \
        --messages "$INDEX_MESSAGES"
fi

# The SQL92 filter rows (sql92_bench.py): pull throughput with an SQL92 filter matching half of
# BENCH_SQL92_MESSAGES stored messages (default 200000; 0 skips the rows) beside a tag filter
# matching the same half, on our broker (about half a minute).
SQL92_MESSAGES="${BENCH_SQL92_MESSAGES:-200000}"
if [ "$SQL92_MESSAGES" != "0" ]; then
    "$VENV/bin/python" sql92_bench.py --messages "$SQL92_MESSAGES"
fi
# The POP rows (pop_bench.py): POP receive + ack against PULL on the same backlog of
# BENCH_POP_MESSAGES messages (default 50000; 0 skips the rows), on ours and, unless
# --no-apache, on Apache's broker. About 1 minute for both.
POP_MESSAGES="${BENCH_POP_MESSAGES:-50000}"
if [ "$POP_MESSAGES" != "0" ]; then
    "$VENV/bin/python" pop_bench.py --broker ours --messages "$POP_MESSAGES"
    case " $* " in
        *" --no-apache "*) ;;
        *) "$VENV/bin/python" pop_bench.py --broker apache --messages "$POP_MESSAGES" ;;
    esac
fi

# The RocketMQ 5 client rows (v5_bench.py): our 5.x API against the official
# rocketmq-python-client (pinned, in $BENCH_V5_VENV, default .venv-v5: it installs a package
# also named `rocketmq`) on our broker's gRPC endpoint; BENCH_V5_MESSAGES per case (default
# 20000, so that ours' fastest case still runs for a measurable time (3,000 took it 50 ms);
# 0 skips the rows). About 2 minutes.
V5_MESSAGES="${BENCH_V5_MESSAGES:-20000}"
if [ "$V5_MESSAGES" != "0" ]; then
    V5_VENV="${BENCH_V5_VENV:-$ROOT/.venv-v5}"
    if [ ! -x "$V5_VENV/bin/python" ]; then
        "$PYTHON" -m venv "$V5_VENV"
    fi
    "$V5_VENV/bin/python" -m pip install --quiet "rocketmq-python-client==5.1.2"
    "$VENV/bin/python" v5_bench.py --official-python "$V5_VENV/bin/python" \
        --messages "$V5_MESSAGES"
fi

exec "$VENV/bin/python" bench.py \
    --cpp-python "$CPP_VENV/bin/python" \
    --loadgen "$TARGET/release/rocketmq-loadgen" \
    "$@"
