/*
 * `producer {"namesrv", "group", "send_timeout_ms"}`: a DefaultMQProducer. Prints READY once
 * started, then answers each request line {"mode": "sync"|"async"|"oneway"|"batch"|"orderly",
 * "messages": [spec...], "batch_size": n, "timeout": s} with RESULT {"results": [...]}, one
 * entry per message in request order: a send result ({"status", "status_name", "msg_id",
 * "offset_msg_id", "offset", "queue_id", ...}) or {"error"}. Orderly sends choose queue
 * `order_arg % number of queues` with a MessageQueueSelector. Exits at end of input.
 *
 * What must stay true: one result per message, never fewer (an async callback that does not
 * come before the timeout is reported as an error).
 */
package rocketmq.javadriver;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;

final class ProducerCommand {
    /** The queue at index `arg % size` of the topic's writable queues (its queue id on one broker). */
    static final MessageQueueSelector BY_ARGUMENT =
        (queues, message, arg) -> queues.get(((Integer) arg) % queues.size());

    private ProducerCommand() {
    }

    static void run(JsonObject args) throws Exception {
        DefaultMQProducer producer = new DefaultMQProducer(args.get("group").getAsString());
        producer.setNamesrvAddr(args.get("namesrv").getAsString());
        producer.setPollNameServerInterval(Main.ROUTE_POLL_MILLIS);
        producer.setSendMsgTimeout((int) Protocol.number(args, "send_timeout_ms", 10000));
        producer.start();
        try {
            Protocol.emit("READY", Protocol.record());
            Protocol.eachRequest(request -> {
                Map<String, Object> answer = Protocol.record();
                answer.put("results", send(producer, request));
                Protocol.emit("RESULT", answer);
            });
        } finally {
            producer.shutdown();
        }
    }

    static List<Map<String, Object>> send(DefaultMQProducer producer, JsonObject request) throws Exception {
        String mode = request.get("mode").getAsString();
        JsonArray specs = request.getAsJsonArray("messages");
        switch (mode) {
            case "batch":
                return sendBatches(producer, specs, (int) Protocol.number(request, "batch_size", 16));
            case "async":
                return sendAsync(producer, specs, Protocol.number(request, "timeout", 60));
            case "sync":
            case "oneway":
            case "orderly":
                List<Map<String, Object>> results = new ArrayList<>();
                for (JsonElement element : specs) {
                    JsonObject spec = element.getAsJsonObject();
                    Message message = Messages.build(spec);
                    try {
                        if (mode.equals("sync")) {
                            results.add(Messages.sendResult(producer.send(message)));
                        } else if (mode.equals("oneway")) {
                            producer.sendOneway(message);
                            Map<String, Object> sent = Protocol.record();
                            sent.put("status", 0);
                            sent.put("msg_id", "");
                            sent.put("offset", -1);
                            results.add(sent);
                        } else {
                            int orderArg = (int) Protocol.number(spec, "order_arg", 0);
                            results.add(Messages.sendResult(producer.send(message, BY_ARGUMENT, orderArg)));
                        }
                    } catch (Exception error) {
                        results.add(Protocol.errorOf(error));
                    }
                }
                return results;
            default:
                throw new IllegalArgumentException("unknown send mode " + mode);
        }
    }

    private static List<Map<String, Object>> sendBatches(DefaultMQProducer producer, JsonArray specs, int size) {
        List<Map<String, Object>> results = new ArrayList<>();
        List<JsonElement> all = new ArrayList<>();
        specs.forEach(all::add);
        for (int start = 0; start < all.size(); start += size) {
            List<Message> chunk = Messages.buildAll(all.subList(start, Math.min(all.size(), start + size)));
            try {
                SendResult sent = producer.send(chunk);
                // A batch answers with the ids of all its messages, comma-separated, and the
                // queue offset of the first one; the rest follow it in the same queue.
                List<String> ids = Arrays.asList(sent.getMsgId().split(","));
                List<String> offsetIds = sent.getOffsetMsgId() == null
                    ? List.of() : Arrays.asList(sent.getOffsetMsgId().split(","));
                for (int index = 0; index < chunk.size(); index++) {
                    Map<String, Object> one = Messages.sendResult(sent);
                    one.put("msg_id", index < ids.size() ? ids.get(index) : null);
                    one.put("offset_msg_id", index < offsetIds.size() ? offsetIds.get(index) : null);
                    one.put("offset", sent.getQueueOffset() + index);
                    results.add(one);
                }
            } catch (Exception error) {
                for (int index = 0; index < chunk.size(); index++) {
                    results.add(Protocol.errorOf(error));
                }
            }
        }
        return results;
    }

    private static List<Map<String, Object>> sendAsync(DefaultMQProducer producer, JsonArray specs, long timeoutSeconds)
        throws InterruptedException {
        int count = specs.size();
        List<Map<String, Object>> outcomes = new ArrayList<>();
        for (int index = 0; index < count; index++) {
            outcomes.add(null);
        }
        CountDownLatch done = new CountDownLatch(count);
        for (int index = 0; index < count; index++) {
            final int slot = index;
            Message message = Messages.build(specs.get(index).getAsJsonObject());
            try {
                producer.send(message, new SendCallback() {
                    @Override
                    public void onSuccess(SendResult result) {
                        synchronized (outcomes) {
                            outcomes.set(slot, Messages.sendResult(result));
                        }
                        done.countDown();
                    }

                    @Override
                    public void onException(Throwable error) {
                        synchronized (outcomes) {
                            outcomes.set(slot, Protocol.errorOf(error));
                        }
                        done.countDown();
                    }
                });
            } catch (Exception error) {
                synchronized (outcomes) {
                    outcomes.set(slot, Protocol.errorOf(error));
                }
                done.countDown();
            }
        }
        done.await(timeoutSeconds, TimeUnit.SECONDS);
        synchronized (outcomes) {
            List<Map<String, Object>> results = new ArrayList<>();
            for (Map<String, Object> outcome : outcomes) {
                if (outcome == null) {
                    Map<String, Object> missing = Protocol.record();
                    missing.put("error", "no async callback before the timeout");
                    results.add(missing);
                } else {
                    results.add(outcome);
                }
            }
            return results;
        }
    }
}
