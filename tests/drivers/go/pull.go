// The `pull` subcommand: the Go client's pull consumer, in one of its two ways.
//   - mode "poll": Subscribe, Start, then Poll and ACK (the consumer balances the queues
//     and keeps the offsets) until `expect` messages arrived or the timeout passed; every
//     message is reported as a MSG line, then RESULT {"count"}.
//   - mode "from": PullFrom on every queue of the topic (queue ids 0..queues-1 of
//     broker_name) from offset 0 until a pull reaches the queue's max offset (or finds
//     nothing); RESULT lists the messages and, per queue, each pull's status, next begin
//     offset and min/max offsets.
//
// What must stay true: every pull is bounded (count and time), and pull statuses are
// reported as the client decoded them, not interpreted.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

type pullArgs struct {
	Namesrv    string  `json:"namesrv"`
	Group      string  `json:"group"`
	Topic      string  `json:"topic"`
	Expression string  `json:"expression"`
	Mode       string  `json:"mode"`
	Expect     int     `json:"expect"`
	TimeoutS   float64 `json:"timeout"`
	BrokerName string  `json:"broker_name"`
	Queues     int     `json:"queues"`
	MaxNum     int     `json:"max_num"`
}

var pullStatusNames = map[primitive.PullStatus]string{
	primitive.PullFound:         "FOUND",
	primitive.PullNoNewMsg:      "NO_NEW_MSG",
	primitive.PullNoMsgMatched:  "NO_MATCHED_MSG",
	primitive.PullOffsetIllegal: "OFFSET_ILLEGAL",
	primitive.PullBrokerTimeout: "BROKER_TIMEOUT",
}

func runPull(rawArgs []byte) error {
	args := pullArgs{Expression: "*", Mode: "poll", TimeoutS: 60, Queues: 4, MaxNum: 32}
	if err := json.Unmarshal(rawArgs, &args); err != nil {
		return err
	}
	pullConsumer, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{args.Namesrv}),
		consumer.WithGroupName(args.Group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		return err
	}
	selector := consumer.MessageSelector{Type: consumer.TAG, Expression: args.Expression}
	if err := pullConsumer.Subscribe(args.Topic, selector); err != nil {
		return err
	}
	if err := pullConsumer.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(args.TimeoutS * float64(time.Second)))
	switch args.Mode {
	case "poll":
		err = pollUntil(pullConsumer, args.Expect, deadline)
	case "from":
		err = pullEveryQueue(pullConsumer, args, deadline)
	default:
		err = fmt.Errorf("unknown pull mode %q", args.Mode)
	}
	if shutdownErr := pullConsumer.Shutdown(); err == nil {
		err = shutdownErr
	}
	return err
}

func pollUntil(pullConsumer rocketmq.PullConsumer, expect int, deadline time.Time) error {
	count := 0
	for polls := 0; polls < 100000 && count < expect && time.Now().Before(deadline); polls++ {
		request, err := pullConsumer.Poll(context.Background(), time.Second)
		if consumer.IsNoNewMsgError(err) {
			continue
		}
		if err != nil {
			return err
		}
		for _, msg := range request.GetMsgList() {
			emit("MSG", delivery(msg))
			count++
		}
		pullConsumer.ACK(context.Background(), request, consumer.ConsumeSuccess)
	}
	emit("RESULT", map[string]interface{}{"count": count})
	return nil
}

func pullEveryQueue(pullConsumer rocketmq.PullConsumer, args pullArgs, deadline time.Time) error {
	messages := []map[string]interface{}{}
	queues := []map[string]interface{}{}
	for queueID := 0; queueID < args.Queues; queueID++ {
		queue := &primitive.MessageQueue{Topic: args.Topic, BrokerName: args.BrokerName, QueueId: queueID}
		offset := int64(0)
		pulls := []map[string]interface{}{}
		for attempt := 0; attempt < 10000 && time.Now().Before(deadline); attempt++ {
			result, err := pullConsumer.PullFrom(context.Background(), queue, offset, args.MaxNum)
			if err != nil {
				pulls = append(pulls, map[string]interface{}{"offset": offset, "error": err.Error()})
				break
			}
			pulls = append(pulls, map[string]interface{}{
				"offset":            offset,
				"status":            pullStatusNames[result.Status],
				"next_begin_offset": result.NextBeginOffset,
				"min_offset":        result.MinOffset,
				"max_offset":        result.MaxOffset,
				"messages":          len(result.GetMessageExts()),
			})
			for _, msg := range result.GetMessageExts() {
				messages = append(messages, delivery(msg))
			}
			// Stop at the queue's end rather than pull there: the client asks the broker to
			// hold a pull that finds nothing for up to 20 s (long polling).
			if result.Status != primitive.PullFound || result.NextBeginOffset <= offset ||
				result.NextBeginOffset >= result.MaxOffset {
				break
			}
			offset = result.NextBeginOffset
		}
		queues = append(queues, map[string]interface{}{"queue_id": queueID, "pulls": pulls})
	}
	emit("RESULT", map[string]interface{}{"messages": messages, "queues": queues})
	return nil
}
