// The `push` subcommand: a push consumer of the Go client (clustering or broadcasting,
// concurrent or orderly) that reports every delivery as a MSG line until end of input or
// its timeout, then shuts down (committing its offsets) and prints DONE. What must stay
// true: every delivery the client makes is reported, including the ones the driver fails on
// purpose (fail_times: the first n deliveries of every message with a `seq` property;
// fail_always: every delivery of the listed seqs), so the tests can follow retries.
package main

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

type pushArgs struct {
	Namesrv           string   `json:"namesrv"`
	Group             string   `json:"group"`
	Topic             string   `json:"topic"`
	Expression        string   `json:"expression"`
	ExpressionType    string   `json:"expression_type"`
	Orderly           bool     `json:"orderly"`
	Broadcasting      bool     `json:"broadcasting"`
	FromLast          bool     `json:"from_last"`
	FailTimes         int      `json:"fail_times"`
	FailAlways        []string `json:"fail_always"`
	MaxReconsumeTimes int32    `json:"max_reconsume_times"`
	TimeoutS          float64  `json:"timeout"`
}

// failurePlan decides, delivery by delivery, which ones the listener fails.
type failurePlan struct {
	lock       sync.Mutex
	failTimes  int
	failAlways map[string]bool
	failed     map[string]int
	deliveries int
}

func (p *failurePlan) judge(seq string) bool {
	p.lock.Lock()
	defer p.lock.Unlock()
	p.deliveries++
	if seq == "" {
		return false
	}
	if p.failAlways[seq] || p.failed[seq] < p.failTimes {
		p.failed[seq]++
		return true
	}
	return false
}

func pushOptions(args pushArgs) []consumer.Option {
	options := []consumer.Option{
		consumer.WithNameServer([]string{args.Namesrv}),
		consumer.WithGroupName(args.Group),
		consumer.WithConsumerOrder(args.Orderly),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}
	if args.FromLast {
		options = append(options, consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset))
	}
	if args.Broadcasting {
		options = append(options, consumer.WithConsumerModel(consumer.BroadCasting))
	} else {
		options = append(options, consumer.WithConsumerModel(consumer.Clustering))
	}
	if args.MaxReconsumeTimes != 0 {
		options = append(options, consumer.WithMaxReconsumeTimes(args.MaxReconsumeTimes))
	}
	return options
}

func runPush(rawArgs []byte) error {
	args := pushArgs{Expression: "*", TimeoutS: 240}
	if err := json.Unmarshal(rawArgs, &args); err != nil {
		return err
	}
	plan := &failurePlan{failTimes: args.FailTimes, failAlways: map[string]bool{}, failed: map[string]int{}}
	for _, seq := range args.FailAlways {
		plan.failAlways[seq] = true
	}
	pushConsumer, err := rocketmq.NewPushConsumer(pushOptions(args)...)
	if err != nil {
		return err
	}
	failure := consumer.ConsumeRetryLater
	if args.Orderly {
		failure = consumer.SuspendCurrentQueueAMoment
	}
	listener := func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		verdict := consumer.ConsumeSuccess
		for _, msg := range msgs {
			record := delivery(msg)
			failing := plan.judge(msg.GetProperty("seq"))
			record["failed"] = failing
			emit("MSG", record)
			if failing {
				verdict = failure
			}
		}
		return verdict, nil
	}
	selector := consumer.MessageSelector{Type: consumer.TAG, Expression: args.Expression}
	if args.ExpressionType == string(consumer.SQL92) {
		selector.Type = consumer.SQL92
	}
	if err := pushConsumer.Subscribe(args.Topic, selector, listener); err != nil {
		return err
	}
	if err := pushConsumer.Start(); err != nil {
		return err
	}
	emit("READY", map[string]interface{}{})
	waitForEndOfInput(time.Duration(args.TimeoutS * float64(time.Second)))
	if err := pushConsumer.Shutdown(); err != nil {
		return err
	}
	plan.lock.Lock()
	deliveries := plan.deliveries
	plan.lock.Unlock()
	emit("DONE", map[string]interface{}{"deliveries": deliveries})
	return nil
}
