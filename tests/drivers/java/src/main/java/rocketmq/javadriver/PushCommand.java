/*
 * `push {"namesrv", "group", "topic", "expression", "orderly", "broadcasting", "properties":
 * [names], "fail_first", "fail_always": [seq...], "max_reconsume_times", "from": "first"|"last",
 * "timeout": s}`: a DefaultMQPushConsumer with a concurrent or an orderly listener. Prints
 * READY once started, MSG {record, "failed"} for every delivery, and after end of input (or
 * the timeout) shuts down and prints DONE {"deliveries": n}.
 *
 * Failing: with fail_first the listener fails the first delivery of each message (known by
 * its `seq` property), with fail_always every delivery of the listed seqs. A failed
 * concurrent delivery returns RECONSUME_LATER (the client sends it back to the broker's retry
 * topic); a failed orderly delivery returns SUSPEND_CURRENT_QUEUE_A_MOMENT (the client
 * redelivers it in place, keeping the queue's order).
 */
package rocketmq.javadriver;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.remoting.protocol.heartbeat.MessageModel;

final class PushCommand {
    private final List<String> propertyNames;
    private final boolean failFirst;
    private final Set<String> failAlways = new HashSet<>();
    private final Set<String> failedOnce = new HashSet<>();
    private final AtomicLong deliveries = new AtomicLong();

    private PushCommand(JsonObject args) {
        propertyNames = Messages.names(args);
        failFirst = Protocol.flag(args, "fail_first");
        if (args.has("fail_always")) {
            for (JsonElement seq : args.getAsJsonArray("fail_always")) {
                failAlways.add(seq.getAsString());
            }
        }
    }

    /** Reports one delivery; true when the listener is to fail it. */
    private boolean deliver(MessageExt message) {
        Map<String, Object> record = Messages.describe(message, propertyNames);
        String seq = message.getUserProperty("seq");
        boolean failing;
        synchronized (failedOnce) {
            deliveries.incrementAndGet();
            failing = failFirst && seq != null && !failedOnce.contains(seq);
            failing = failing || (seq != null && failAlways.contains(seq));
            if (failing && seq != null) {
                failedOnce.add(seq);
            }
        }
        record.put("failed", failing);
        Protocol.emit("MSG", record);
        return failing;
    }

    static void run(JsonObject args) throws Exception {
        PushCommand listener = new PushCommand(args);
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(args.get("group").getAsString());
        consumer.setNamesrvAddr(args.get("namesrv").getAsString());
        consumer.setPollNameServerInterval(Main.ROUTE_POLL_MILLIS);
        consumer.subscribe(args.get("topic").getAsString(), Protocol.string(args, "expression", "*"));
        consumer.setConsumeFromWhere(Protocol.string(args, "from", "first").equals("last")
            ? ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET : ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        if (Protocol.flag(args, "broadcasting")) {
            consumer.setMessageModel(MessageModel.BROADCASTING);
        }
        if (args.has("max_reconsume_times")) {
            consumer.setMaxReconsumeTimes((int) Protocol.number(args, "max_reconsume_times", -1));
        }
        // Shutdown waits for deliveries under way, so that every reported verdict reaches the broker.
        consumer.setAwaitTerminationMillisWhenShutdown(10000);
        if (Protocol.flag(args, "orderly")) {
            consumer.setSuspendCurrentQueueTimeMillis(100);
            consumer.registerMessageListener((MessageListenerOrderly) (messages, context) -> {
                for (MessageExt message : messages) {
                    if (listener.deliver(message)) {
                        return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT;
                    }
                }
                return ConsumeOrderlyStatus.SUCCESS;
            });
        } else {
            consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
                boolean failed = false;
                for (MessageExt message : messages) {
                    failed |= listener.deliver(message);
                }
                return failed ? ConsumeConcurrentlyStatus.RECONSUME_LATER : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
        }
        CountDownLatch endOfInput = Protocol.endOfInput();
        consumer.start();
        Protocol.emit("READY", Protocol.record());
        Protocol.awaitEndOfInput(endOfInput, Protocol.number(args, "timeout", 240));
        consumer.shutdown();
        Map<String, Object> done = Protocol.record();
        done.put("deliveries", listener.deliveries.get());
        Protocol.emit("DONE", done);
    }
}
