#!/usr/bin/env bash
# Builds the Go client driver (rocketmq-go-driver) into tests/drivers/go/bin and prints the
# binary's path on stdout. The build is skipped when the binary was built from the same
# sources, go.mod, go.sum and Go version (a stamp next to it); modules come from the Go
# module cache, which keeps them between runs (only the first build downloads, through the
# module proxy). Usage: bash tests/drivers/go/build.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"

if ! command -v go >/dev/null 2>&1; then
    echo "go is not installed: the Go client interop tests need Go (1.22 or newer)" >&2
    exit 1
fi

BINARY="bin/rocketmq-go-driver"
STAMP="bin/rocketmq-go-driver.stamp"
stamp="$({ go version; cat go.mod go.sum; cat ./*.go; } | sha256sum | cut -d' ' -f1)"

if [ -x "$BINARY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp" ]; then
    echo "go driver up to date" >&2
else
    mkdir -p bin
    rm -f "$STAMP"
    go build -o "$BINARY" .
    echo "$stamp" >"$STAMP"
    echo "go driver built" >&2
fi
echo "$(pwd)/$BINARY"
