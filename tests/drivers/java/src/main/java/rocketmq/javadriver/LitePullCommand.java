/*
 * `litepull {"namesrv", "group", "topic", "expression", "properties": [names], "assign": bool,
 * "timeout": s}`: a DefaultLitePullConsumer with auto-commit. With "assign" it takes every
 * queue of the topic itself and seeks each to offset 0; otherwise it subscribes (the group
 * rebalances, a new group starts at the first offset). Prints READY once started, MSG
 * {record} for every polled message, and after end of input (or the timeout) shuts down
 * (committing its offsets) and prints DONE {"polled": n}.
 */
package rocketmq.javadriver;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

final class LitePullCommand {
    private LitePullCommand() {
    }

    static void run(JsonObject args) throws Exception {
        List<String> propertyNames = Messages.names(args);
        String topic = args.get("topic").getAsString();
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(args.get("group").getAsString());
        consumer.setNamesrvAddr(args.get("namesrv").getAsString());
        consumer.setPollNameServerInterval(Main.ROUTE_POLL_MILLIS);
        consumer.setAutoCommit(true);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        boolean assign = Protocol.flag(args, "assign");
        if (!assign) {
            consumer.subscribe(topic, Protocol.string(args, "expression", "*"));
        }
        CountDownLatch endOfInput = Protocol.endOfInput();
        consumer.start();
        if (assign) {
            // No seek: the group is new, so CONSUME_FROM_FIRST_OFFSET starts every queue at its
            // first message. A seek here would race the client's own pull tasks, which assign
            // starts at once: seek interrupts them (the client then closes its broker
            // connection, failing seek's own request) and what they already fetched is polled
            // a second time. Both are the client's behaviour, the same against any broker.
            Collection<MessageQueue> queues = consumer.fetchMessageQueues(topic);
            consumer.assign(new ArrayList<>(queues));
        }
        Protocol.emit("READY", Protocol.record());
        long polled = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Protocol.number(args, "timeout", 240));
        while (endOfInput.getCount() > 0 && System.nanoTime() < deadline) {
            for (MessageExt message : consumer.poll(200)) {
                polled++;
                Protocol.emit("MSG", Messages.describe(message, propertyNames));
            }
        }
        consumer.shutdown();
        Map<String, Object> done = Protocol.record();
        done.put("polled", polled);
        Protocol.emit("DONE", done);
    }
}
