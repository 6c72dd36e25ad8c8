package rocketmq.java5driver;

import com.google.gson.JsonObject;

/**
 * Apache's Java 5.x client (rocketmq-client-java, gRPC) running one flow against a RocketMQ 5
 * endpoint: {@code Main FLOW JSON-ARGS}, with the flows and arguments of the Python flow
 * scripts in tests/interop/v5_flows (normal, fifo, delay, transaction, simple_consumer,
 * push_consumer). It prints the flow's records (Records) and a last "done" record, and exits
 * non-zero on any error.
 *
 * <p>What must stay true: every wait is bounded by the flow's "seconds" argument (60 by
 * default); the process ends when the flow does (no thread of ours keeps it alive).
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] argv) throws Exception {
        if (argv.length != 2) {
            System.err.println("usage: Main FLOW JSON-ARGS");
            System.exit(2);
        }
        JsonObject args = Records.parse(argv[1]);
        Flows flows = new Flows(args);
        switch (argv[0]) {
            case "normal" -> flows.normal();
            case "fifo" -> flows.fifo();
            case "delay" -> flows.delay();
            case "transaction" -> flows.transaction();
            case "simple_consumer" -> flows.simpleConsumer();
            case "push_consumer" -> flows.pushConsumer();
            default -> {
                System.err.println("unknown flow " + argv[0]);
                System.exit(2);
            }
        }
        Records.record("done", Records.fields());
        System.exit(0);
    }
}
