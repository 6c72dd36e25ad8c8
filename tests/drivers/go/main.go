// rocketmq-go-driver drives Apache's Go client (github.com/apache/rocketmq-client-go/v2) for
// the interop tests in tests/interop/test_go_client.py, speaking the line protocol of
// tests/python/driverprocess.py.
//
// Usage: rocketmq-go-driver SUBCOMMAND 'JSON-ARGS', SUBCOMMAND one of
//   - producer {"namesrv", "group", "send_timeout_ms", "retries"}: READY, then one RESULT
//     per request line {"mode": sync|async|oneway|batch|orderly, "messages", "batch_size"}.
//   - transaction {"namesrv", "group", "check_by_seq"}: READY, then one RESULT per request
//     line {"messages"}, LOCAL for every local transaction and CHECK for every check-back.
//   - push {"namesrv", "group", "topic", "expression", "expression_type" (TAG or SQL92),
//     "orderly", "broadcasting", "from_last", "fail_times", "fail_always",
//     "max_reconsume_times", "timeout"}: READY, MSG per delivery until end of input or the
//     timeout, then DONE.
//   - pull {"namesrv", "group", "topic", "expression", "mode": poll|from, "expect",
//     "broker_name", "queues", "max_num", "timeout"}: MSG lines (poll) and one RESULT.
//
// A failure to start or run is reported as ERROR {"error"} and a non-zero exit status. The
// client is only ever pointed at the name server it is given (the tests give 127.0.0.1).
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	takeResultDescriptor()
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: rocketmq-go-driver producer|transaction|push|pull JSON-ARGS")
		os.Exit(2)
	}
	commands := map[string]func([]byte) error{
		"producer":    runProducer,
		"transaction": runTransaction,
		"push":        runPush,
		"pull":        runPull,
	}
	command, known := commands[os.Args[1]]
	if !known {
		fmt.Fprintf(os.Stderr, "unknown subcommand %q\n", os.Args[1])
		os.Exit(2)
	}
	started := time.Now()
	if err := command([]byte(os.Args[2])); err != nil {
		emit("ERROR", errorOf(err))
		fmt.Fprintf(os.Stderr, "go driver %s failed: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "go driver %s finished in %.1fs\n", os.Args[1], time.Since(started).Seconds())
}
