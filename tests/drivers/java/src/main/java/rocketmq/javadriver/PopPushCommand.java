/*
 * `poppush {"namesrv", "group", "topic", "expression", "properties": [names], "fail_first":
 * [seq...], "invisible_ms", "timeout": s}`: a DefaultMQPushConsumer in POP mode, the way RocketMQ 5 switches a
 * remoting push consumer over: the group's request mode for the topic is set to POP on every
 * master of the topic (SET_MESSAGE_REQUEST_MODE through DefaultMQAdminExt, as `mqadmin
 * setConsumeMode -m POP` does), and the consumer runs with clientRebalance=false, so it asks
 * the broker for its queues (QUERY_ASSIGNMENT) and pops and acks them instead of pulling.
 *
 * Prints READY once started, MSG {record, "failed", "pop_ck"} for every delivery (pop_ck is
 * the receipt handle the broker's answer made, null when the message was pulled), and after
 * end of input (or the timeout) shuts down and prints DONE {"deliveries": n}. The first
 * delivery of every seq in fail_first is failed (RECONSUME_LATER: the client changes its
 * invisible time to the first pop delay level, 10 s, so the broker hands it out again);
 * every other delivery is acked.
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
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageRequestMode;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

final class PopPushCommand {
    private static final long ADMIN_TIMEOUT_MILLIS = 10000;

    private final List<String> propertyNames;
    private final Set<String> failFirst = new HashSet<>();
    private final Set<String> failedOnce = new HashSet<>();
    private final AtomicLong deliveries = new AtomicLong();

    private PopPushCommand(JsonObject args) {
        propertyNames = Messages.names(args);
        if (args.has("fail_first")) {
            for (JsonElement seq : args.getAsJsonArray("fail_first")) {
                failFirst.add(seq.getAsString());
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
            failing = seq != null && failFirst.contains(seq) && failedOnce.add(seq);
        }
        record.put("failed", failing);
        record.put("pop_ck", message.getProperty(MessageConst.PROPERTY_POP_CK));
        Protocol.emit("MSG", record);
        return failing;
    }

    /** Sets the group's request mode for the topic to POP on every master of the topic. */
    private static void switchToPop(String namesrv, String topic, String group) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(ADMIN_TIMEOUT_MILLIS);
        admin.setNamesrvAddr(namesrv);
        admin.setInstanceName("pop-mode-admin-" + System.nanoTime());
        admin.start();
        try {
            TopicRouteData route = admin.examineTopicRouteInfo(topic);
            for (BrokerData broker : route.getBrokerDatas()) {
                String master = broker.selectBrokerAddr();
                // popShareQueueNum 0: every member of the group pops every queue.
                admin.setMessageRequestMode(master, topic, group, MessageRequestMode.POP, 0, ADMIN_TIMEOUT_MILLIS);
            }
        } finally {
            admin.shutdown();
        }
    }

    static void run(JsonObject args) throws Exception {
        PopPushCommand listener = new PopPushCommand(args);
        String namesrv = args.get("namesrv").getAsString();
        String group = args.get("group").getAsString();
        String topic = args.get("topic").getAsString();
        switchToPop(namesrv, topic, group);
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv);
        consumer.setPollNameServerInterval(Main.ROUTE_POLL_MILLIS);
        consumer.setClientRebalance(false);
        consumer.subscribe(topic, Protocol.string(args, "expression", "*"));
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setAwaitTerminationMillisWhenShutdown(10000);
        if (args.has("invisible_ms")) {
            // How long a popped message stays hidden from the group unless acked (Java's minimum is 5 s).
            consumer.setPopInvisibleTime(Protocol.number(args, "invisible_ms", 60000));
        }
        consumer.registerMessageListener((MessageListenerConcurrently) (messages, context) -> {
            boolean failed = false;
            for (MessageExt message : messages) {
                failed |= listener.deliver(message);
            }
            return failed ? ConsumeConcurrentlyStatus.RECONSUME_LATER : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
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
