/*
 * Entry point of the Java test driver: `Main SUBCOMMAND 'JSON-ARGS'` with SUBCOMMAND one of
 * producer, transaction, push, poppush, litepull, admin (each described in its own class). Result
 * lines go to stdout in the protocol of tests/python/driverprocess.py; a failure of the
 * command itself is printed as ERROR {"error"} and ends the process with status 1.
 *
 * What must stay true: Protocol.install() and the client system properties are set before
 * any RocketMQ class loads (they are read in static initialisers).
 */
package rocketmq.javadriver;

import com.google.gson.JsonObject;
import java.util.Map;

public final class Main {
    /**
     * How often clients refresh topic routes (Apache's default is 30 s): a consumer of a new
     * group learns the route of its retry topic, created by its first heartbeat, only then.
     */
    static final int ROUTE_POLL_MILLIS = 1000;

    private Main() {
    }

    public static void main(String[] argv) {
        Protocol.install();
        // Rebalance every second instead of every 20 s, so that consumers joining or leaving a
        // group settle within a test's patience.
        System.setProperty("rocketmq.client.rebalance.waitInterval", "1000");
        if (argv.length != 2) {
            System.err.println("usage: Main producer|transaction|push|poppush|litepull|admin JSON-ARGS");
            System.exit(2);
        }
        long started = System.nanoTime();
        int status = 0;
        try {
            JsonObject args = Protocol.parse(argv[1]);
            switch (argv[0]) {
                case "producer":
                    ProducerCommand.run(args);
                    break;
                case "transaction":
                    TransactionCommand.run(args);
                    break;
                case "push":
                    PushCommand.run(args);
                    break;
                case "poppush":
                    PopPushCommand.run(args);
                    break;
                case "litepull":
                    LitePullCommand.run(args);
                    break;
                case "admin":
                    AdminCommand.run(args);
                    break;
                default:
                    throw new IllegalArgumentException("unknown subcommand " + argv[0]);
            }
        } catch (Throwable error) {
            error.printStackTrace();
            Map<String, Object> failure = Protocol.errorOf(error);
            Protocol.emit("ERROR", failure);
            status = 1;
        }
        System.err.printf("java driver %s finished in %.1fs%n", argv[0], (System.nanoTime() - started) / 1e9);
        // The clients were shut down above; their leftover non-daemon threads must not keep
        // the process alive.
        System.exit(status);
    }
}
