package rocketmq.java5driver;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.client.apis.message.MessageView;

/**
 * The driver's output: one JSON object per line on stdout, each with an "event" key, with the
 * same names and values as the records of the Python flow scripts (tests/interop/v5_flows),
 * so the tests check both with the same code (tests/interop/v5_flow_checks.py).
 *
 * <p>What must stay true: a record is printed whole and flushed at once (listener threads print
 * too); absent optional fields are JSON null.
 */
final class Records {
    private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

    private Records() {
    }

    static synchronized void record(String event, Map<String, Object> fields) {
        Map<String, Object> all = new TreeMap<>(fields);
        all.put("event", event);
        System.out.println(GSON.toJson(all));
        System.out.flush();
    }

    static Map<String, Object> fields(Object... pairs) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            map.put((String) pairs[i], pairs[i + 1]);
        }
        return map;
    }

    static byte[] bytes(MessageView message) {
        ByteBuffer body = message.getBody().duplicate();
        byte[] bytes = new byte[body.remaining()];
        body.get(bytes);
        return bytes;
    }

    static String text(MessageView message) {
        return new String(bytes(message), StandardCharsets.UTF_8);
    }

    static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(String.format("%02x", b & 0xff));
        }
        return out.toString();
    }

    /** The fields of a received message that the tests compare. */
    static Map<String, Object> received(MessageView message) {
        List<String> keys = new ArrayList<>(message.getKeys());
        Collections.sort(keys);
        return fields(
            "topic", message.getTopic(),
            "body", text(message),
            "body_hex", hex(bytes(message)),
            "tag", message.getTag().orElse(null),
            "keys", keys,
            "message_group", message.getMessageGroup().orElse(null),
            "properties", new TreeMap<>(message.getProperties()),
            "message_id", message.getMessageId().toString(),
            "delivery_attempt", message.getDeliveryAttempt(),
            "born_host", message.getBornHost(),
            "received_ms", System.currentTimeMillis());
    }

    static JsonObject parse(String json) {
        return GSON.fromJson(json, JsonObject.class);
    }
}
