#!/usr/bin/env bash
# Checks the one abi3 wheel on every CPython from 3.9 to 3.13, and the sdist.
#
# 1. Builds the wheel once (maturin build --release) and checks it is one abi3 wheel
#    (cp39-abi3) with a manylinux platform tag that `auditwheel show` (PyPI) confirms.
# 2. For each of CPython 3.9, 3.10, 3.11, 3.12 and 3.13: finds the interpreter (pyenv's
#    versions first, then `python3.X` on PATH), makes a virtualenv for it (.venv-py/3.X,
#    reused between runs), installs that same wheel and pytest, and runs tests/python from a
#    temporary directory against the installed package, all versions at once (their outputs
#    are printed one after another): before pytest starts, the run checks that `rocketmq`
#    and its native module come from the virtualenv's site-packages, never from the source
#    tree's python/ directory. A missing version is skipped with a WARNING
#    line, never silently; the summary table lists every version as passed, FAILED or
#    skipped.
# 3. Builds the sdist (maturin sdist), installs it with pip into a fresh virtualenv (pip
#    builds the Rust code from the sdist's sources alone) and, from a temporary directory,
#    imports it and sends and pulls a message through its bundled broker. By default the
#    sdist is compiled with cargo's dev profile into the repository's target/ directory, so
#    the dependencies compiled by the test run are reused (a few minutes less); with
#    ROCKETMQ_TEST_SDIST=1 it is compiled as a user's `pip install` compiles it (release
#    profile, its own target directory), which takes several CPU-minutes more.
#
# Exits non-zero if the wheel or sdist checks fail or any available version fails its tests.
# Standalone: bash scripts/python_versions.sh (scripts/test.sh runs it). Needs python3, cargo
# and PyPI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
PYTHON="${PYTHON:-python3}"
VERSIONS="3.9 3.10 3.11 3.12 3.13"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The tools: maturin (pinned as in scripts/test.sh) and auditwheel, in the project's .venv.
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet "maturin==1.16.*" "auditwheel==6.*"

echo "---- the wheel (maturin build --release)"
.venv/bin/maturin build --release --quiet -o "$WORK/wheel" -i .venv/bin/python
shopt -s nullglob
wheels=("$WORK"/wheel/*.whl)
shopt -u nullglob
if [ "${#wheels[@]}" -ne 1 ]; then
    echo "expected exactly one wheel, maturin built ${#wheels[@]}" >&2
    exit 1
fi
WHEEL="${wheels[0]}"
echo "wheel: $(basename "$WHEEL")"
case "$(basename "$WHEEL")" in
*-cp39-abi3-manylinux*) ;;
*)
    echo "the wheel is not one abi3 (cp39-abi3) manylinux wheel: check pyo3's abi3-py39 feature in Cargo.toml" >&2
    exit 1
    ;;
esac
audit="$(.venv/bin/auditwheel show "$WHEEL")"
tag="$(printf '%s\n' "$audit" | tr '\n' ' ' | grep -oE 'platform tag: +"manylinux_[0-9]+_[0-9]+_[a-z0-9_]+"' | grep -oE 'manylinux_[^"]+' || true)"
if [ -z "$tag" ]; then
    printf '%s\n' "$audit" >&2
    echo "auditwheel show found no manylinux platform tag for the wheel" >&2
    exit 1
fi
echo "auditwheel show: consistent with $tag"

# The interpreter for version $1: pyenv's newest $1.x first, then python$1 on PATH (checked to
# be that version: pyenv's shims exist for versions that are not selected and then fail).
find_python() {
    local version="$1" candidate
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in $(ls -d "$(pyenv root)/versions/$version".* 2>/dev/null | sort -V -r); do
            if [ -x "$candidate/bin/python$version" ]; then
                echo "$candidate/bin/python$version"
                return 0
            fi
        done
    fi
    candidate="$(command -v "python$version" || true)"
    if [ -n "$candidate" ] && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" >/dev/null 2>&1; then
        echo "$candidate"
        return 0
    fi
    return 1
}

# Run inside each version's virtualenv, from a directory where python/ is not importable.
# shellcheck disable=SC2016
RUN_SUITE='
import os, sys, sysconfig
import rocketmq, rocketmq._rocketmq
site = os.path.realpath(sysconfig.get_paths()["purelib"])
for module in (rocketmq, rocketmq._rocketmq):
    where = os.path.realpath(module.__file__)
    if not where.startswith(site + os.sep):
        sys.exit(f"{module.__name__} was imported from {where}, not from {site}: refusing to test the source tree instead of the installed wheel")
if ".abi3." not in os.path.basename(rocketmq._rocketmq.__file__):
    sys.exit(f"{rocketmq._rocketmq.__file__} is not an abi3 extension module")
print(f"testing rocketmq {rocketmq.__version__} installed at {os.path.dirname(rocketmq.__file__)}", flush=True)
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[1]]))
'

# One version's run: installs the wheel into its virtualenv and runs the suite, writing its
# output to $WORK/log-$1, then "passed"/"FAILED"/"skipped ..." to $WORK/outcome-$1 and the
# seconds it took to $WORK/seconds-$1. The versions run at the same time: the suite mostly
# waits on sockets and timers (a few CPU-seconds per run), and each run has its own ports
# (ephemeral) and temp stores, so five at once take about as long as one.
run_version() {
    local version="$1" interpreter venv started
    started=$(date +%s)
    if ! interpreter="$(find_python "$version")"; then
        echo "WARNING: CPython $version not found (neither in pyenv nor python$version on PATH): skipped"
        echo "skipped (not installed)" >"$WORK/outcome-$version"
        echo "-" >"$WORK/seconds-$version"
        return 0
    fi
    venv="$ROOT/.venv-py/$version"
    # A virtualenv left by an earlier run is reused unless its interpreter is gone or changed.
    if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -c "import sys; sys.exit(sys.base_prefix != '$(dirname "$(dirname "$interpreter")")')" 2>/dev/null; then
        rm -rf "$venv"
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "$interpreter" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check pytest pytest-timeout
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
    mkdir -p "$WORK/run-$version"
    if (cd "$WORK/run-$version" && "$venv/bin/python" -c "$RUN_SUITE" "$ROOT/tests/python"); then
        echo "passed" >"$WORK/outcome-$version"
    else
        echo "FAILED" >"$WORK/outcome-$version"
    fi
    echo $(($(date +%s) - started)) >"$WORK/seconds-$version"
}

failed=0
mkdir -p "$WORK/run"
pids=()
for version in $VERSIONS; do
    (run_version "$version" >"$WORK/log-$version" 2>&1 || echo "FAILED" >"$WORK/outcome-$version") &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || true
done
declare -A outcome
declare -A seconds
for version in $VERSIONS; do
    echo "---- CPython $version"
    cat "$WORK/log-$version"
    outcome[$version]="$(cat "$WORK/outcome-$version" 2>/dev/null || echo "FAILED (no outcome written)")"
    seconds[$version]="$(cat "$WORK/seconds-$version" 2>/dev/null || echo "-")"
    case "${outcome[$version]}" in
    passed | skipped*) ;;
    *) failed=1 ;;
    esac
done

echo "---- the sdist (maturin sdist, then pip install into a fresh virtualenv)"
sdist_started=$(date +%s)
if ! .venv/bin/maturin sdist -o "$WORK/sdist" >"$WORK/sdist.log" 2>&1; then
    cat "$WORK/sdist.log" >&2
    echo "maturin sdist failed (output above)" >&2
    exit 1
fi
shopt -s nullglob
sdists=("$WORK"/sdist/*.tar.gz)
shopt -u nullglob
if [ "${#sdists[@]}" -ne 1 ]; then
    echo "expected exactly one sdist, maturin built ${#sdists[@]}" >&2
    exit 1
fi
"$PYTHON" -m venv "$WORK/sdist-venv"
if [ "${ROCKETMQ_TEST_SDIST:-0}" = "1" ]; then
    sdist_mode="release profile, as users build it"
    (cd "$WORK" && "$WORK/sdist-venv/bin/python" -m pip install --quiet "${sdists[0]}")
else
    sdist_mode="dev profile, dependencies shared with target/ (ROCKETMQ_TEST_SDIST=1: release)"
    (cd "$WORK" && CARGO_TARGET_DIR="$ROOT/target" MATURIN_PEP517_ARGS="--profile dev" \
        "$WORK/sdist-venv/bin/python" -m pip install --quiet "${sdists[0]}")
fi
(cd "$WORK/run" && "$WORK/sdist-venv/bin/python" - <<'PY')
import os
import sysconfig
import time

import rocketmq
from rocketmq.broker import LocalBroker
from rocketmq.client import Message, Producer, PullConsumer

site = os.path.realpath(sysconfig.get_paths()["purelib"])
assert os.path.realpath(rocketmq.__file__).startswith(site + os.sep), rocketmq.__file__
with LocalBroker(namesrv_port=0, broker_port=0) as broker:
    producer = Producer("sdist-check")
    producer.set_namesrv_addr(broker.namesrv_addr)
    producer.start()
    msg = Message("SdistCheck")
    msg.set_body(b"built from the sdist")
    sent = producer.send_sync(msg)
    producer.shutdown()
    consumer = PullConsumer("sdist-check")
    consumer.set_namesrv_addr(broker.namesrv_addr)
    consumer.start()
    bodies = []
    deadline = time.monotonic() + 30
    for _ in range(300):  # the stored message becomes pullable once dispatched
        bodies += [received.body for received in consumer.pull("SdistCheck")]
        if bodies or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    consumer.shutdown()
assert bodies == [b"built from the sdist"], bodies
print(f"sdist install works: sent {sent.msg_id} and pulled it back")
PY
sdist_seconds=$(($(date +%s) - sdist_started))

echo
echo "---- one wheel, every CPython: $(basename "$WHEEL") ($tag)"
printf '%-8s %-26s %s\n' "CPython" "tests/python" "seconds"
for version in $VERSIONS; do
    printf '%-8s %-26s %s\n' "$version" "${outcome[$version]}" "${seconds[$version]}"
done
printf 'sdist    %-26s %s   (%s)\n' "installed and works" "$sdist_seconds" "$sdist_mode"
if [ "$failed" -ne 0 ]; then
    echo "tests/python failed on at least one CPython version (see above)" >&2
    exit 1
fi
