/*
 * Messages between the line protocol and the Java client: a JSON message spec becomes an
 * org.apache.rocketmq Message, and a received MessageExt becomes the JSON record the tests
 * compare with what was sent.
 *
 * A spec is {"topic", "tags", "keys", "properties": {name: value}, "body_hex", "delay_level"};
 * a record carries ids, topic, tags, keys, the user properties the test asked for, the body as
 * hex, queue id and offset, reconsume times, store size and timestamps. What must stay true:
 * bodies travel as hex, byte for byte (NUL and high bytes included).
 */
package rocketmq.javadriver;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;

final class Messages {
    private static final HexFormat HEX = HexFormat.of();

    private Messages() {
    }

    static Message build(JsonObject spec) {
        Message message = new Message(spec.get("topic").getAsString(),
            HEX.parseHex(Protocol.string(spec, "body_hex", "")));
        String tags = Protocol.string(spec, "tags", "");
        if (!tags.isEmpty()) {
            message.setTags(tags);
        }
        String keys = Protocol.string(spec, "keys", "");
        if (!keys.isEmpty()) {
            message.setKeys(keys);
        }
        if (spec.has("properties")) {
            for (Map.Entry<String, JsonElement> property : spec.getAsJsonObject("properties").entrySet()) {
                message.putUserProperty(property.getKey(), property.getValue().getAsString());
            }
        }
        long delayLevel = Protocol.number(spec, "delay_level", 0);
        if (delayLevel > 0) {
            message.setDelayTimeLevel((int) delayLevel);
        }
        return message;
    }

    static List<Message> buildAll(Iterable<JsonElement> specs) {
        List<Message> messages = new ArrayList<>();
        for (JsonElement spec : specs) {
            messages.add(build(spec.getAsJsonObject()));
        }
        return messages;
    }

    static Map<String, Object> sendResult(SendResult result) {
        Map<String, Object> record = Protocol.record();
        record.put("status", result.getSendStatus().ordinal());
        record.put("status_name", result.getSendStatus().name());
        record.put("msg_id", result.getMsgId());
        record.put("offset_msg_id", result.getOffsetMsgId());
        record.put("offset", result.getQueueOffset());
        record.put("queue_id", result.getMessageQueue().getQueueId());
        record.put("broker", result.getMessageQueue().getBrokerName());
        record.put("transaction_id", result.getTransactionId());
        return record;
    }

    static Map<String, Object> describe(MessageExt message, List<String> propertyNames) {
        Map<String, Object> properties = Protocol.record();
        for (String name : propertyNames) {
            String value = message.getProperty(name);
            if (value != null) {
                properties.put(name, value);
            }
        }
        Map<String, Object> record = Protocol.record();
        record.put("id", message.getMsgId());
        record.put("offset_msg_id", message instanceof MessageClientExt
            ? ((MessageClientExt) message).getOffsetMsgId() : message.getMsgId());
        record.put("topic", message.getTopic());
        record.put("tags", message.getTags() == null ? "" : message.getTags());
        record.put("keys", message.getKeys() == null ? "" : message.getKeys());
        record.put("properties", properties);
        record.put("retry_topic", message.getProperty(MessageConst.PROPERTY_RETRY_TOPIC));
        record.put("body_hex", message.getBody() == null ? "" : HEX.formatHex(message.getBody()));
        record.put("queue_id", message.getQueueId());
        record.put("queue_offset", message.getQueueOffset());
        record.put("reconsume_times", message.getReconsumeTimes());
        record.put("store_size", message.getStoreSize());
        record.put("born_timestamp", message.getBornTimestamp());
        record.put("store_timestamp", message.getStoreTimestamp());
        return record;
    }

    static List<String> names(JsonObject args) {
        List<String> names = new ArrayList<>();
        if (args.has("properties")) {
            for (JsonElement name : args.getAsJsonArray("properties")) {
                names.add(name.getAsString());
            }
        }
        return names;
    }
}
