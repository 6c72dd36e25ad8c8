// The `producer` subcommand: a DefaultProducer of the Go client that sends every request it
// reads in the requested mode and answers with one RESULT line per request, one result per
// message in request order. What must stay true: every message gets a result (a send result
// or an error), async sends are waited for (bounded), and orderly sends go to the queue the
// message's order argument selects (order_arg modulo the number of queues).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

type producerArgs struct {
	Namesrv       string `json:"namesrv"`
	Group         string `json:"group"`
	SendTimeoutMs int    `json:"send_timeout_ms"`
	Retries       *int   `json:"retries"`
}

type sendRequest struct {
	Mode      string        `json:"mode"`
	Messages  []messageSpec `json:"messages"`
	BatchSize int           `json:"batch_size"`
	TimeoutS  float64       `json:"timeout"`
}

// orderSelector picks the queue whose id is the message's order argument modulo the
// number of queues; messages without one go round robin.
type orderSelector struct {
	args       sync.Map // *primitive.Message -> int
	roundRobin producer.QueueSelector
}

func (s *orderSelector) Select(msg *primitive.Message, queues []*primitive.MessageQueue, lastBrokerName string) *primitive.MessageQueue {
	value, ok := s.args.Load(msg)
	if !ok {
		return s.roundRobin.Select(msg, queues, lastBrokerName)
	}
	want := value.(int) % len(queues)
	for _, queue := range queues {
		if queue.QueueId == want {
			return queue
		}
	}
	return queues[want]
}

func producerOptions(args producerArgs) []producer.Option {
	timeout := 10 * time.Second
	if args.SendTimeoutMs > 0 {
		timeout = time.Duration(args.SendTimeoutMs) * time.Millisecond
	}
	retries := 2 // the client's default
	if args.Retries != nil {
		retries = *args.Retries
	}
	return []producer.Option{
		producer.WithNameServer([]string{args.Namesrv}),
		producer.WithGroupName(args.Group),
		producer.WithSendMsgTimeout(timeout),
		producer.WithRetry(retries),
	}
}

func runProducer(rawArgs []byte) error {
	var args producerArgs
	if err := json.Unmarshal(rawArgs, &args); err != nil {
		return err
	}
	selector := &orderSelector{roundRobin: producer.NewRoundRobinQueueSelector()}
	sender, err := rocketmq.NewProducer(append(producerOptions(args), producer.WithQueueSelector(selector))...)
	if err != nil {
		return err
	}
	if err := sender.Start(); err != nil {
		return err
	}
	defer func() { _ = sender.Shutdown() }()
	emit("READY", map[string]interface{}{})
	return readRequests(func(line []byte) {
		var request sendRequest
		if err := json.Unmarshal(line, &request); err != nil {
			emit("ERROR", errorOf(err))
			return
		}
		emit("RESULT", map[string]interface{}{"results": send(sender, selector, request)})
	})
}

func send(sender rocketmq.Producer, selector *orderSelector, request sendRequest) []map[string]interface{} {
	results := make([]map[string]interface{}, len(request.Messages))
	messages := make([]*primitive.Message, len(request.Messages))
	for index, spec := range request.Messages {
		msg, err := buildMessage(spec)
		if err != nil {
			results[index] = errorOf(err)
			continue
		}
		messages[index] = msg
	}
	ctx := context.Background()
	switch request.Mode {
	case "sync", "orderly":
		for index, msg := range messages {
			if msg == nil {
				continue
			}
			if request.Mode == "orderly" {
				arg := request.Messages[index].OrderArg
				if arg == nil {
					results[index] = errorOf(fmt.Errorf("orderly send without order_arg"))
					continue
				}
				selector.args.Store(msg, *arg)
			}
			result, err := sender.SendSync(ctx, msg)
			selector.args.Delete(msg)
			if err != nil {
				results[index] = errorOf(err)
			} else {
				results[index] = sendResult(result)
			}
		}
	case "oneway":
		for index, msg := range messages {
			if msg == nil {
				continue
			}
			if err := sender.SendOneWay(ctx, msg); err != nil {
				results[index] = errorOf(err)
			} else {
				results[index] = map[string]interface{}{"status": 0, "msg_id": "", "offset": -1}
			}
		}
	case "async":
		sendAsync(sender, messages, results, request.TimeoutS)
	case "batch":
		sendBatches(sender, messages, results, request.BatchSize)
	default:
		for index := range results {
			results[index] = errorOf(fmt.Errorf("unknown send mode %q", request.Mode))
		}
	}
	return results
}

func sendAsync(sender rocketmq.Producer, messages []*primitive.Message, results []map[string]interface{}, timeoutS float64) {
	if timeoutS <= 0 {
		timeoutS = 60
	}
	var lock sync.Mutex
	var pending sync.WaitGroup
	for index, msg := range messages {
		if msg == nil {
			continue
		}
		index := index
		pending.Add(1)
		var once sync.Once
		finish := func(outcome map[string]interface{}) {
			once.Do(func() {
				lock.Lock()
				results[index] = outcome
				lock.Unlock()
				pending.Done()
			})
		}
		err := sender.SendAsync(context.Background(), func(_ context.Context, result *primitive.SendResult, err error) {
			if err != nil {
				finish(errorOf(err))
			} else {
				finish(sendResult(result))
			}
		}, msg)
		if err != nil {
			finish(errorOf(err))
		}
	}
	done := make(chan struct{})
	go func() {
		pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Duration(timeoutS * float64(time.Second))):
	}
	lock.Lock()
	defer lock.Unlock()
	for index, msg := range messages {
		if msg != nil && results[index] == nil {
			results[index] = errorOf(fmt.Errorf("no async callback before the timeout"))
		}
	}
}

// sendBatches sends the messages in batches of batchSize; each message's result is its
// batch's, with the message's own broker id (the broker answers one per message, comma
// separated; the Go client gives batched messages no unique ids of their own) and the
// offset it got (the batch's first offset plus its place in the batch).
func sendBatches(sender rocketmq.Producer, messages []*primitive.Message, results []map[string]interface{}, batchSize int) {
	if batchSize <= 0 {
		batchSize = 16
	}
	for start := 0; start < len(messages); start += batchSize {
		end := start + batchSize
		if end > len(messages) {
			end = len(messages)
		}
		chunk := make([]*primitive.Message, 0, end-start)
		for _, msg := range messages[start:end] {
			if msg != nil {
				chunk = append(chunk, msg)
			}
		}
		if len(chunk) == 0 {
			continue
		}
		result, err := sender.SendSync(context.Background(), chunk...)
		if err != nil {
			for index := start; index < end; index++ {
				if messages[index] != nil {
					results[index] = errorOf(err)
				}
			}
			continue
		}
		ids := strings.Split(result.OffsetMsgID, ",")
		place := 0
		for index := start; index < end; index++ {
			if messages[index] == nil {
				continue
			}
			outcome := sendResult(result)
			outcome["batch_first_offset"] = result.QueueOffset
			outcome["offset"] = result.QueueOffset + int64(place)
			outcome["batch_offset_msg_id"] = result.OffsetMsgID
			if place < len(ids) {
				outcome["offset_msg_id"] = ids[place]
			}
			results[index] = outcome
			place++
		}
	}
}
