package rocketmq.java5driver;

import static rocketmq.java5driver.Records.fields;
import static rocketmq.java5driver.Records.received;
import static rocketmq.java5driver.Records.record;
import static rocketmq.java5driver.Records.text;

import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.consumer.ConsumeResult;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.FilterExpressionType;
import org.apache.rocketmq.client.apis.consumer.PushConsumer;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.message.MessageBuilder;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.SendReceipt;
import org.apache.rocketmq.client.apis.producer.Transaction;
import org.apache.rocketmq.client.apis.producer.TransactionResolution;

/**
 * The flows of tests/interop/v5_flows written with the Java 5.x API: the same messages, the
 * same consumer behaviour and the same records, so the same checks apply.
 *
 * <p>What must stay true: plaintext gRPC (the endpoints under test serve no TLS); every loop
 * ends at the flow's deadline.
 */
final class Flows {
    private final ClientServiceProvider provider = ClientServiceProvider.loadService();
    private final JsonObject args;
    private final ClientConfiguration config;
    private final String topic;
    private final String group;
    private final long deadline;

    Flows(JsonObject args) {
        this.args = args;
        this.config = ClientConfiguration.newBuilder()
            .setEndpoints(args.get("endpoint").getAsString())
            .enableSsl(false)
            .setRequestTimeout(Duration.ofSeconds(5))
            .build();
        this.topic = args.get("topic").getAsString();
        this.group = args.get("group").getAsString();
        long seconds = args.has("seconds") ? args.get("seconds").getAsLong() : 60;
        this.deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    }

    private int intArg(String name) {
        return args.get(name).getAsInt();
    }

    private boolean beforeDeadline() {
        return System.nanoTime() < deadline;
    }

    private MessageBuilder message(String body) {
        return provider.newMessageBuilder().setTopic(topic).setBody(body.getBytes(StandardCharsets.UTF_8));
    }

    private SimpleConsumer simpleConsumer(String tag) throws Exception {
        FilterExpression filter = new FilterExpression(tag, FilterExpressionType.TAG);
        return provider.newSimpleConsumerBuilder()
            .setClientConfiguration(config)
            .setConsumerGroup(group)
            .setAwaitDuration(Duration.ofSeconds(3))
            .setSubscriptionExpressions(Map.of(topic, filter))
            .build();
    }

    private Producer producer() throws Exception {
        return provider.newProducerBuilder().setClientConfiguration(config).setTopics(topic).build();
    }

    private void sent(String body, SendReceipt receipt, Object... more) {
        Map<String, Object> f = fields(more);
        f.put("body", body);
        f.put("message_id", receipt.getMessageId().toString());
        record("sent", f);
    }

    /** Receives until `wanted` messages came or the deadline passed, acking each. */
    private int receiveAndAck(SimpleConsumer consumer, int wanted, int batch, long untilNanos)
        throws Exception {
        int got = 0;
        while (got < wanted && System.nanoTime() < untilNanos) {
            for (MessageView view : consumer.receive(batch, Duration.ofSeconds(15))) {
                record("received", received(view));
                consumer.ack(view);
                record("acked", fields("body", text(view)));
                got++;
            }
        }
        return got;
    }

    void normal() throws Exception {
        int count = intArg("count");
        try (SimpleConsumer consumer = simpleConsumer("TagA"); Producer producer = producer()) {
            for (int i = 0; i < count; i++) {
                String body = "normal-" + i;
                Message m = message(body).setTag("TagA").setKeys("key-" + i)
                    .addProperty("seq", String.valueOf(i))
                    .addProperty("text", "h\u00e9llo \u4e16\u754c").build();
                SendReceipt receipt = i % 2 == 0 ? producer.send(m) : producer.sendAsync(m).get(30, TimeUnit.SECONDS);
                sent(body, receipt);
            }
            sent("other-tag", producer.send(message("other-tag").setTag("TagB").build()));
            receiveAndAck(consumer, count, 16, deadline);
        }
    }

    void fifo() throws Exception {
        int groups = intArg("groups");
        int perGroup = intArg("per_group");
        try (SimpleConsumer consumer = simpleConsumer("*"); Producer producer = producer()) {
            for (int seq = 0; seq < perGroup; seq++) {
                for (int g = 0; g < groups; g++) {
                    String body = "fifo-" + g + "-" + seq;
                    Message m = message(body).setMessageGroup("order-" + g)
                        .addProperty("seq", String.valueOf(seq)).build();
                    sent(body, producer.send(m), "message_group", "order-" + g);
                }
            }
            receiveAndAck(consumer, groups * perGroup, 1, deadline);
        }
    }

    void delay() throws Exception {
        int count = intArg("count");
        try (SimpleConsumer consumer = simpleConsumer("*"); Producer producer = producer()) {
            for (int i = 0; i < count; i++) {
                long now = System.currentTimeMillis();
                // Whole seconds, as the Python flow sends them.
                long due = ((now + intArg("delay_ms")) / 1000 + 1) * 1000;
                String body = "delay-" + i;
                SendReceipt receipt = producer.send(message(body).setDeliveryTimestamp(due).build());
                sent(body, receipt, "sent_ms", now, "delivery_timestamp", due);
            }
            int got = 0;
            while (got < count && beforeDeadline()) {
                for (MessageView view : consumer.receive(16, Duration.ofSeconds(15))) {
                    Map<String, Object> f = received(view);
                    f.put("delivery_timestamp", view.getDeliveryTimestamp().orElse(null));
                    record("received", f);
                    consumer.ack(view);
                    record("acked", fields("body", text(view)));
                    got++;
                }
            }
        }
    }

    void transaction() throws Exception {
        Set<String> checked = ConcurrentHashMap.newKeySet();
        Map<String, TransactionResolution> answers = Map.of(
            "check-commit", TransactionResolution.COMMIT,
            "check-rollback", TransactionResolution.ROLLBACK);
        try (SimpleConsumer consumer = simpleConsumer("*");
             Producer producer = provider.newProducerBuilder().setClientConfiguration(config).setTopics(topic)
                 .setTransactionChecker(view -> {
                     String body = text(view);
                     TransactionResolution answer = answers.getOrDefault(body, TransactionResolution.UNKNOWN);
                     record("checked", fields("body", body, "message_id", view.getMessageId().toString(),
                         "answer", answer.name()));
                     checked.add(body);
                     return answer;
                 }).build()) {
            for (String body : new String[] {"commit", "rollback", "check-commit", "check-rollback"}) {
                Transaction transaction = producer.beginTransaction();
                Message m = message(body).setTag("TagT").setKeys("key-" + body).build();
                sent(body, producer.send(m, transaction));
                if (body.equals("commit")) {
                    transaction.commit();
                    record("ended", fields("body", body, "resolution", "COMMIT"));
                } else if (body.equals("rollback")) {
                    transaction.rollback();
                    record("ended", fields("body", body, "resolution", "ROLLBACK"));
                }
            }
            receiveAndAck(consumer, 2, 16, deadline);
            while (checked.size() < 2 && beforeDeadline()) {
                receiveAndAck(consumer, 1, 16, System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
            }
            receiveAndAck(consumer, 1, 16, System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
        }
    }

    void simpleConsumer() throws Exception {
        int invisible = intArg("invisible_s");
        int retry = intArg("retry_s");
        try (SimpleConsumer consumer = simpleConsumer("*"); Producer producer = producer()) {
            for (String body : new String[] {"acked-at-once", "comes-back"}) {
                sent(body, producer.send(message(body).build()));
            }
            boolean returned = false;
            while (!returned && beforeDeadline()) {
                for (MessageView view : consumer.receive(16, Duration.ofSeconds(invisible))) {
                    String body = text(view);
                    record("received", received(view));
                    if (body.equals("comes-back") && view.getDeliveryAttempt() == 1) {
                        consumer.changeInvisibleDuration(view, Duration.ofSeconds(retry));
                        record("changed", fields("body", body, "seconds", retry));
                    } else {
                        consumer.ack(view);
                        record("acked", fields("body", body));
                        returned = returned || body.equals("comes-back");
                    }
                }
            }
        }
    }

    void pushConsumer() throws Exception {
        int count = intArg("count");
        Set<String> succeeded = ConcurrentHashMap.newKeySet();
        FilterExpression all = new FilterExpression("*", FilterExpressionType.TAG);
        // Not closed: PushConsumer.close() waits for its long-polling receives to end (up to
        // 30 s); Main's System.exit ends the process once the flow's records are out.
        PushConsumer consumer = provider.newPushConsumerBuilder()
            .setClientConfiguration(config)
            .setConsumerGroup(group)
            .setSubscriptionExpressions(Map.of(topic, all))
            .setConsumptionThreadCount(4)
            .setMessageListener(view -> {
                String body = text(view);
                boolean fail = body.equals("push-0") && view.getDeliveryAttempt() == 1;
                Map<String, Object> f = received(view);
                f.put("answer", fail ? "FAILURE" : "SUCCESS");
                record("consumed", f);
                if (fail) {
                    return ConsumeResult.FAILURE;
                }
                succeeded.add(body);
                return ConsumeResult.SUCCESS;
            }).build();
        try (Producer producer = producer()) {
            for (int i = 0; i < count; i++) {
                String body = "push-" + i;
                sent(body, producer.send(message(body).setTag("TagP").build()));
            }
            while (succeeded.size() < count && beforeDeadline()) {
                Thread.sleep(100);
            }
        }
    }
}
