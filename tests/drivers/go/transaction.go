// The `transaction` subcommand: a TransactionProducer of the Go client. Each request line
// is {"messages": [...]}; every message is sent as a half message, its local transaction
// answers the message's local_state, and when the broker checks back later the listener
// answers its check_state and reports the check as a CHECK line. A check of a transaction
// this process did not send (another producer of the group sent it and is gone) is answered
// from the arguments' check_by_seq, by the message's `seq` property. What must stay true: a
// check the driver cannot place is reported (answer "unknown", known false), never guessed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

var transactionStates = map[string]primitive.LocalTransactionState{
	"commit":   primitive.CommitMessageState,
	"rollback": primitive.RollbackMessageState,
	"unknown":  primitive.UnknowState,
	"":         primitive.CommitMessageState,
}

// transactionBook holds what the listener answers: the local state of the message being
// sent (set just before its send) and the check-back state by transaction id.
type transactionBook struct {
	lock         sync.Mutex
	localState   map[*primitive.Message]string
	checkState   map[*primitive.Message]string
	checkByTxnID map[string]string
	checkBySeq   map[string]string
}

func (b *transactionBook) ExecuteLocalTransaction(msg *primitive.Message) primitive.LocalTransactionState {
	b.lock.Lock()
	defer b.lock.Unlock()
	transactionID := msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex)
	b.checkByTxnID[transactionID] = b.checkState[msg]
	answer := b.localState[msg]
	emit("LOCAL", map[string]interface{}{"seq": seqOf(msg), "transaction_id": transactionID, "answer": answer})
	return transactionStates[answer]
}

func (b *transactionBook) CheckLocalTransaction(msg *primitive.MessageExt) primitive.LocalTransactionState {
	b.lock.Lock()
	transactionID := msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex)
	answer, known := b.checkByTxnID[transactionID]
	if !known {
		answer, known = b.checkBySeq[msg.GetProperty("seq")]
	}
	b.lock.Unlock()
	if !known {
		answer = "unknown"
	}
	record := delivery(msg)
	record["transaction_id"] = transactionID
	record["answer"] = answer
	record["known"] = known
	emit("CHECK", record)
	state, ok := transactionStates[answer]
	if !ok {
		return primitive.UnknowState
	}
	return state
}

type transactionArgs struct {
	producerArgs
	CheckBySeq map[string]string `json:"check_by_seq"`
}

func runTransaction(rawArgs []byte) error {
	var args transactionArgs
	if err := json.Unmarshal(rawArgs, &args); err != nil {
		return err
	}
	book := &transactionBook{
		localState:   map[*primitive.Message]string{},
		checkState:   map[*primitive.Message]string{},
		checkByTxnID: map[string]string{},
		checkBySeq:   args.CheckBySeq,
	}
	if book.checkBySeq == nil {
		book.checkBySeq = map[string]string{}
	}
	sender, err := rocketmq.NewTransactionProducer(book, producerOptions(args.producerArgs)...)
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
		results := make([]map[string]interface{}, 0, len(request.Messages))
		for _, spec := range request.Messages {
			results = append(results, sendInTransaction(sender, book, spec))
		}
		emit("RESULT", map[string]interface{}{"results": results})
	})
}

func sendInTransaction(sender rocketmq.TransactionProducer, book *transactionBook, spec messageSpec) map[string]interface{} {
	if _, ok := transactionStates[spec.LocalState]; !ok {
		return errorOf(fmt.Errorf("unknown local_state %q", spec.LocalState))
	}
	msg, err := buildMessage(spec)
	if err != nil {
		return errorOf(err)
	}
	book.lock.Lock()
	book.localState[msg] = spec.LocalState
	book.checkState[msg] = spec.CheckState
	book.lock.Unlock()
	result, err := sender.SendMessageInTransaction(context.Background(), msg)
	book.lock.Lock()
	delete(book.localState, msg)
	delete(book.checkState, msg)
	book.lock.Unlock()
	if err != nil {
		return errorOf(err)
	}
	outcome := sendResult(result.SendResult)
	outcome["state"] = int(result.State)
	return outcome
}
