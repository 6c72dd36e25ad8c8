/*
 * The driver side of the line protocol of tests/python/driverprocess.py: one `KEYWORD <json>`
 * line per result on the process's original standard output, and everything else (the
 * client library's own printing included) on standard error.
 *
 * What must stay true: install() runs before any RocketMQ class is touched, so that nothing
 * but emit() ever writes to the result descriptor; emit() writes whole lines under one lock,
 * from any thread.
 */
package rocketmq.javadriver;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

final class Protocol {
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().serializeNulls().create();
    private static final Object LOCK = new Object();
    private static PrintStream results;

    private Protocol() {
    }

    /** Keeps the original stdout for result lines and points System.out at stderr. */
    static void install() {
        results = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);
    }

    static void emit(String keyword, Object value) {
        String line = keyword + " " + GSON.toJson(value);
        synchronized (LOCK) {
            results.print(line + "\n");
            results.flush();
        }
    }

    static JsonObject parse(String json) {
        return JsonParser.parseString(json).getAsJsonObject();
    }

    static Map<String, Object> record() {
        return new LinkedHashMap<>();
    }

    static Map<String, Object> errorOf(Throwable error) {
        Map<String, Object> record = record();
        record.put("error", error.getClass().getSimpleName() + ": " + error.getMessage());
        return record;
    }

    static String string(JsonObject args, String name, String fallback) {
        return args.has(name) && !args.get(name).isJsonNull() ? args.get(name).getAsString() : fallback;
    }

    static long number(JsonObject args, String name, long fallback) {
        return args.has(name) && !args.get(name).isJsonNull() ? args.get(name).getAsLong() : fallback;
    }

    static boolean flag(JsonObject args, String name) {
        return args.has(name) && !args.get(name).isJsonNull() && args.get(name).getAsBoolean();
    }

    /** Reads request lines from stdin until end of input, handing each to `handler`. */
    static void eachRequest(RequestHandler handler) throws Exception {
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
            if (!line.isBlank()) {
                handler.handle(parse(line));
            }
        }
    }

    /** A latch released when stdin reaches end of input (the test's signal to stop). */
    static CountDownLatch endOfInput() {
        CountDownLatch closed = new CountDownLatch(1);
        Thread reader = new Thread(() -> {
            try {
                byte[] buffer = new byte[4096];
                // Input is only a stop signal here; its bytes carry no meaning.
                int read = 0;
                while (read >= 0) {
                    read = System.in.read(buffer);
                }
            } catch (java.io.IOException ignored) {
                // A broken stdin means the test is gone: stop as on end of input.
            }
            closed.countDown();
        }, "end-of-input");
        reader.setDaemon(true);
        reader.start();
        return closed;
    }

    /** Waits for end of input, at most `seconds`; true when input ended. */
    static boolean awaitEndOfInput(CountDownLatch closed, long seconds) throws InterruptedException {
        return closed.await(seconds, TimeUnit.SECONDS);
    }

    interface RequestHandler {
        void handle(JsonObject request) throws Exception;
    }
}
