/*
 * `transaction {"namesrv", "group", "check_answer": "commit"|"rollback"|"unknown",
 * "properties": [names]}`: a TransactionMQProducer. Prints READY once started, then answers
 * each request line {"messages": [spec...], "local": "commit"|"rollback"|"unknown"} with
 * RESULT {"results": [...]}: per message the send result plus "local_state", the state its
 * local transaction reported. Every check-back the broker makes is printed as
 * CHECK {message record, "transaction_id", "answer", "check_times", "checked_at"} and
 * answered with `check_answer`.
 * Exits at end of input.
 */
package rocketmq.javadriver;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageConst;
import org.apache.rocketmq.common.message.MessageExt;

final class TransactionCommand {
    private TransactionCommand() {
    }

    static LocalTransactionState state(String answer) {
        switch (answer) {
            case "commit":
                return LocalTransactionState.COMMIT_MESSAGE;
            case "rollback":
                return LocalTransactionState.ROLLBACK_MESSAGE;
            case "unknown":
                return LocalTransactionState.UNKNOW;
            default:
                throw new IllegalArgumentException("unknown transaction answer " + answer);
        }
    }

    static void run(JsonObject args) throws Exception {
        LocalTransactionState checkAnswer = state(Protocol.string(args, "check_answer", "commit"));
        List<String> propertyNames = Messages.names(args);
        TransactionMQProducer producer = new TransactionMQProducer(args.get("group").getAsString());
        producer.setNamesrvAddr(args.get("namesrv").getAsString());
        producer.setPollNameServerInterval(Main.ROUTE_POLL_MILLIS);
        producer.setSendMsgTimeout((int) Protocol.number(args, "send_timeout_ms", 10000));
        producer.setTransactionListener(new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message message, Object arg) {
                return (LocalTransactionState) arg;
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt message) {
                Map<String, Object> check = Messages.describe(message, propertyNames);
                check.put("transaction_id", message.getTransactionId());
                check.put("answer", checkAnswer.name());
                check.put("check_times", message.getProperty(MessageConst.PROPERTY_TRANSACTION_CHECK_TIMES));
                check.put("checked_at", System.currentTimeMillis());
                Protocol.emit("CHECK", check);
                return checkAnswer;
            }
        });
        producer.start();
        try {
            Protocol.emit("READY", Protocol.record());
            Protocol.eachRequest(request -> {
                LocalTransactionState local = state(Protocol.string(request, "local", "commit"));
                List<Map<String, Object>> results = new ArrayList<>();
                for (JsonElement spec : request.getAsJsonArray("messages")) {
                    try {
                        TransactionSendResult sent =
                            producer.sendMessageInTransaction(Messages.build(spec.getAsJsonObject()), local);
                        Map<String, Object> result = Messages.sendResult(sent);
                        result.put("local_state", sent.getLocalTransactionState().name());
                        results.add(result);
                    } catch (Exception error) {
                        results.add(Protocol.errorOf(error));
                    }
                }
                Map<String, Object> answer = Protocol.record();
                answer.put("results", results);
                Protocol.emit("RESULT", answer);
            });
        } finally {
            producer.shutdown();
        }
    }
}
