// Messages as the tests describe them (the JSON message spec shared with
// tests/interop/cpp_driver.py) and deliveries as the driver reports them. What must stay
// true: a body travels as hex, byte for byte, and every user property of a delivery is
// reported, so the tests can compare what was sent with what came back.
package main

import (
	"encoding/hex"
	"fmt"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// messageSpec is one message to send.
type messageSpec struct {
	Topic      string            `json:"topic"`
	Tags       string            `json:"tags"`
	Keys       string            `json:"keys"`
	Properties map[string]string `json:"properties"`
	BodyHex    string            `json:"body_hex"`
	OrderArg   *int              `json:"order_arg"`
	DelayLevel int               `json:"delay_level"`
	// For transactional sends: what the local transaction answers ("commit", "rollback",
	// "unknown") and what the check-back answers later.
	LocalState string `json:"local_state"`
	CheckState string `json:"check_state"`
}

func buildMessage(spec messageSpec) (*primitive.Message, error) {
	body, err := hex.DecodeString(spec.BodyHex)
	if err != nil {
		return nil, fmt.Errorf("body_hex: %w", err)
	}
	msg := primitive.NewMessage(spec.Topic, body)
	if spec.Tags != "" {
		msg.WithTag(spec.Tags)
	}
	if spec.Keys != "" {
		// The keys string is sent as given (space-separated keys, as the other clients do).
		msg.WithKeys([]string{spec.Keys})
	}
	for name, value := range spec.Properties {
		msg.WithProperty(name, value)
	}
	if spec.DelayLevel > 0 {
		msg.WithDelayTimeLevel(spec.DelayLevel)
	}
	return msg, nil
}

// systemProperties are the properties the client and broker set; a delivery reports only
// the others, the ones a user set.
var systemProperties = map[string]bool{}

func init() {
	for _, name := range []string{
		primitive.PropertyKeys, primitive.PropertyTags, primitive.PropertyWaitStoreMsgOk,
		primitive.PropertyDelayTimeLevel, primitive.PropertyRetryTopic, primitive.PropertyRealTopic,
		primitive.PropertyRealQueueId, primitive.PropertyTransactionPrepared,
		primitive.PropertyProducerGroup, primitive.PropertyMinOffset, primitive.PropertyMaxOffset,
		primitive.PropertyOriginMessageId, primitive.PropertyReconsumeTime,
		primitive.PropertyUniqueClientMessageIdKeyIndex, primitive.PropertyMaxReconsumeTimes,
		primitive.PropertyConsumeStartTime, primitive.PropertyTransactionID,
		primitive.PropertyTranscationPreparedQueueOffset, primitive.PropertyTranscationCheckTimes,
		primitive.PropertyCheckImmunityTimeInSeconds, primitive.PropertyMsgRegion,
		primitive.PropertyTraceSwitch, primitive.PropertyCluster,
	} {
		systemProperties[name] = true
	}
}

// delivery describes a received message.
func delivery(msg *primitive.MessageExt) map[string]interface{} {
	user := map[string]string{}
	system := map[string]string{}
	for name, value := range msg.GetProperties() {
		if systemProperties[name] {
			system[name] = value
		} else {
			user[name] = value
		}
	}
	queueID := -1
	if msg.Queue != nil {
		queueID = msg.Queue.QueueId
	}
	return map[string]interface{}{
		"id":                msg.MsgId,
		"offset_msg_id":     msg.OffsetMsgId,
		"topic":             msg.Topic,
		"tags":              msg.GetTags(),
		"keys":              msg.GetKeys(),
		"properties":        user,
		"system_properties": system,
		"body_hex":          hex.EncodeToString(msg.Body),
		"queue_id":          queueID,
		"queue_offset":      msg.QueueOffset,
		"reconsume_times":   msg.ReconsumeTimes,
		"store_size":        msg.StoreSize,
		"born_timestamp":    msg.BornTimestamp,
		"store_timestamp":   msg.StoreTimestamp,
		"commit_log_offset": msg.CommitLogOffset,
		"sys_flag":          msg.SysFlag,
	}
}

// sendResult describes an acknowledged send.
func sendResult(result *primitive.SendResult) map[string]interface{} {
	queueID := -1
	brokerName := ""
	if result.MessageQueue != nil {
		queueID = result.MessageQueue.QueueId
		brokerName = result.MessageQueue.BrokerName
	}
	return map[string]interface{}{
		"status":         int(result.Status),
		"msg_id":         result.MsgID,
		"offset_msg_id":  result.OffsetMsgID,
		"queue_id":       queueID,
		"broker_name":    brokerName,
		"offset":         result.QueueOffset,
		"transaction_id": result.TransactionID,
	}
}

func seqOf(msg *primitive.Message) string {
	return msg.GetProperty("seq")
}
