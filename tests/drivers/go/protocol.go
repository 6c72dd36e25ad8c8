// The driver's side of the line protocol of tests/python/driverprocess.py: one
// `KEYWORD <json>` line per result on the process's original stdout, requests as one JSON
// value per stdin line, end of stdin as the signal to stop. What must stay true: nothing
// but result lines reaches the result descriptor (os.Stdout is pointed at stderr before the
// client library can write anything), and the client library's own log goes to stderr.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"
)

var (
	resultLock sync.Mutex
	resultOut  io.Writer
)

// takeResultDescriptor keeps the original stdout for result lines and sends anything else
// written to os.Stdout to stderr.
func takeResultDescriptor() {
	resultOut = os.Stdout
	os.Stdout = os.Stderr
}

// emit writes one result line; safe from any goroutine.
func emit(keyword string, value interface{}) {
	payload, err := json.Marshal(value)
	if err != nil {
		payload, _ = json.Marshal(map[string]string{"error": "unencodable result: " + err.Error()})
		keyword = "ERROR"
	}
	resultLock.Lock()
	defer resultLock.Unlock()
	fmt.Fprintf(resultOut, "%s %s\n", keyword, payload)
}

func errorOf(err error) map[string]interface{} {
	return map[string]interface{}{"error": err.Error()}
}

// readRequests calls handle for every non-blank stdin line until end of input.
func readRequests(handle func(line []byte)) error {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		handle(line)
	}
	return scanner.Err()
}

// waitForEndOfInput blocks until stdin reaches end of input or the timeout passed.
func waitForEndOfInput(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		fmt.Fprintf(os.Stderr, "no end of input within %s, stopping\n", timeout)
	}
}

// stderrLogger is the client library's logger: one line per entry on stderr, entries below
// the level (ROCKETMQ_GO_LOG_LEVEL: debug, info, warn, error; warn when unset) dropped.
type stderrLogger struct {
	lock  sync.Mutex
	level int
}

var levelNames = map[string]int{"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3, "fatal": 4}

func newStderrLogger() *stderrLogger {
	logger := &stderrLogger{level: 2}
	logger.Level(os.Getenv("ROCKETMQ_GO_LOG_LEVEL"))
	return logger
}

func (l *stderrLogger) write(level int, name, msg string, fields map[string]interface{}) {
	if level < l.level || (msg == "" && len(fields) == 0) {
		return
	}
	l.lock.Lock()
	defer l.lock.Unlock()
	fmt.Fprintf(os.Stderr, "%s %s %s %v\n", time.Now().Format("15:04:05.000"), name, msg, fields)
}

func (l *stderrLogger) Debug(msg string, fields map[string]interface{}) {
	l.write(0, "DEBUG", msg, fields)
}

func (l *stderrLogger) Info(msg string, fields map[string]interface{}) {
	l.write(1, "INFO", msg, fields)
}

func (l *stderrLogger) Warning(msg string, fields map[string]interface{}) {
	l.write(2, "WARN", msg, fields)
}

func (l *stderrLogger) Error(msg string, fields map[string]interface{}) {
	l.write(3, "ERROR", msg, fields)
}

func (l *stderrLogger) Fatal(msg string, fields map[string]interface{}) {
	l.write(4, "FATAL", msg, fields)
	os.Exit(1)
}

func (l *stderrLogger) Level(level string) {
	if value, ok := levelNames[strings.ToLower(level)]; ok {
		l.level = value
	}
}

func (l *stderrLogger) OutputPath(string) error {
	return nil
}

func init() {
	rlog.SetLogger(newStderrLogger())
}
