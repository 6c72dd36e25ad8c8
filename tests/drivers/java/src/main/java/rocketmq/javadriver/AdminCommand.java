/*
 * `admin {"namesrv", "properties": [names]}`: Apache's admin client (DefaultMQAdminExt, the
 * API behind mqadmin) and the client API it is built on. Prints READY once started, then
 * answers each request line {"op", ...} with RESULT {...}, or RESULT {"error", "code"} when the
 * call failed (code: the broker's response code where there is one). Ops:
 *
 * - "route" {topic}: the topic's route from the name server (brokers and queue data);
 * - "cluster": cluster and broker names with their addresses;
 * - "topics": every topic the name server knows;
 * - "create_topic" {topic, queues}: creates or updates the topic on every broker;
 * - "offsets" {topic, group?}: per queue min, max and earliest store time, plus the group's
 *   committed offset (or its error code) when a group is given;
 * - "search_offset" {topic, queue_id, timestamp}: the queue offset for a store time;
 * - "view" {topic, msg_id}: one message by its offset message id;
 * - "query_key" {topic, key}: messages by key;
 * - "consumers" {group}: the client ids of the group's consumers, per the broker;
 * - "consume_stats" {group}: the group's consume progress.
 */
package rocketmq.javadriver;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.impl.MQClientManager;
import org.apache.rocketmq.client.impl.factory.MQClientInstance;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.protocol.admin.ConsumeStats;
import org.apache.rocketmq.remoting.protocol.admin.OffsetWrapper;
import org.apache.rocketmq.remoting.protocol.body.ClusterInfo;
import org.apache.rocketmq.remoting.protocol.header.QueryConsumerOffsetRequestHeader;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.route.QueueData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;

final class AdminCommand {
    private static final long TIMEOUT_MILLIS = 10000;

    private final DefaultMQAdminExt admin;
    private final MQClientInstance client;
    private final List<String> propertyNames;

    private AdminCommand(DefaultMQAdminExt admin, MQClientInstance client, List<String> propertyNames) {
        this.admin = admin;
        this.client = client;
        this.propertyNames = propertyNames;
    }

    static void run(JsonObject args) throws Exception {
        DefaultMQAdminExt admin = new DefaultMQAdminExt(TIMEOUT_MILLIS);
        admin.setNamesrvAddr(args.get("namesrv").getAsString());
        admin.start();
        try {
            // The admin client's own client instance (the same one: same client id).
            MQClientInstance client = MQClientManager.getInstance().getOrCreateMQClientInstance(admin);
            AdminCommand command = new AdminCommand(admin, client, Messages.names(args));
            Protocol.emit("READY", Protocol.record());
            Protocol.eachRequest(request -> {
                Map<String, Object> answer;
                try {
                    answer = command.answer(request);
                } catch (Exception error) {
                    answer = Protocol.errorOf(error);
                    answer.put("code", codeOf(error));
                }
                answer.put("op", request.get("op").getAsString());
                Protocol.emit("RESULT", answer);
            });
        } finally {
            admin.shutdown();
        }
    }

    static Integer codeOf(Throwable error) {
        for (Throwable cause = error; cause != null; cause = cause.getCause()) {
            if (cause instanceof MQBrokerException) {
                return ((MQBrokerException) cause).getResponseCode();
            }
            if (cause instanceof MQClientException && ((MQClientException) cause).getResponseCode() != -1) {
                return ((MQClientException) cause).getResponseCode();
            }
        }
        return null;
    }

    private Map<String, Object> answer(JsonObject request) throws Exception {
        String op = request.get("op").getAsString();
        switch (op) {
            case "route":
                return route(admin.examineTopicRouteInfo(request.get("topic").getAsString()));
            case "cluster":
                return cluster(admin.examineBrokerClusterInfo());
            case "topics": {
                Map<String, Object> answer = Protocol.record();
                answer.put("topics", new ArrayList<>(admin.fetchAllTopicList().getTopicList()));
                return answer;
            }
            case "create_topic":
                return createTopic(request.get("topic").getAsString(), (int) Protocol.number(request, "queues", 4));
            case "offsets":
                return offsets(request.get("topic").getAsString(), Protocol.string(request, "group", null));
            case "search_offset": {
                MessageQueue queue = queueOf(request.get("topic").getAsString(),
                    (int) Protocol.number(request, "queue_id", 0));
                Map<String, Object> answer = Protocol.record();
                answer.put("offset", admin.searchOffset(queue, Protocol.number(request, "timestamp", 0)));
                return answer;
            }
            case "view": {
                MessageExt message = admin.viewMessage(request.get("topic").getAsString(),
                    request.get("msg_id").getAsString());
                return Messages.describe(message, propertyNames);
            }
            case "query_key": {
                QueryResult result = admin.queryMessage(request.get("topic").getAsString(),
                    request.get("key").getAsString(), 32, 0, Long.MAX_VALUE);
                List<Map<String, Object>> messages = new ArrayList<>();
                for (MessageExt message : result.getMessageList()) {
                    messages.add(Messages.describe(message, propertyNames));
                }
                Map<String, Object> answer = Protocol.record();
                answer.put("messages", messages);
                return answer;
            }
            case "consumers":
                return consumers(request.get("group").getAsString());
            case "consume_stats":
                return consumeStats(admin.examineConsumeStats(request.get("group").getAsString()));
            default:
                throw new IllegalArgumentException("unknown admin op " + op);
        }
    }

    private static Map<String, Object> route(TopicRouteData route) {
        List<Map<String, Object>> brokers = new ArrayList<>();
        for (BrokerData broker : route.getBrokerDatas()) {
            Map<String, Object> one = Protocol.record();
            one.put("cluster", broker.getCluster());
            one.put("broker_name", broker.getBrokerName());
            one.put("addrs", new TreeMap<>(broker.getBrokerAddrs()));
            brokers.add(one);
        }
        List<Map<String, Object>> queues = new ArrayList<>();
        for (QueueData queue : route.getQueueDatas()) {
            Map<String, Object> one = Protocol.record();
            one.put("broker_name", queue.getBrokerName());
            one.put("read_queues", queue.getReadQueueNums());
            one.put("write_queues", queue.getWriteQueueNums());
            one.put("perm", queue.getPerm());
            one.put("sys_flag", queue.getTopicSysFlag());
            queues.add(one);
        }
        Map<String, Object> answer = Protocol.record();
        answer.put("brokers", brokers);
        answer.put("queues", queues);
        return answer;
    }

    private static Map<String, Object> cluster(ClusterInfo info) {
        Map<String, Object> brokers = new TreeMap<>();
        for (Map.Entry<String, BrokerData> entry : info.getBrokerAddrTable().entrySet()) {
            Map<String, Object> one = Protocol.record();
            one.put("cluster", entry.getValue().getCluster());
            one.put("addrs", new TreeMap<>(entry.getValue().getBrokerAddrs()));
            brokers.put(entry.getKey(), one);
        }
        Map<String, Object> clusters = new TreeMap<>();
        for (Map.Entry<String, Set<String>> entry : info.getClusterAddrTable().entrySet()) {
            List<String> names = new ArrayList<>(entry.getValue());
            names.sort(null);
            clusters.put(entry.getKey(), names);
        }
        Map<String, Object> answer = Protocol.record();
        answer.put("brokers", brokers);
        answer.put("clusters", clusters);
        return answer;
    }

    private Map<String, Object> createTopic(String topic, int queues) throws Exception {
        ClusterInfo info = admin.examineBrokerClusterInfo();
        List<String> created = new ArrayList<>();
        for (BrokerData broker : info.getBrokerAddrTable().values()) {
            String address = broker.selectBrokerAddr();
            TopicConfig config = new TopicConfig(topic, queues, queues);
            admin.createAndUpdateTopicConfig(address, config);
            created.add(broker.getBrokerName());
        }
        Map<String, Object> answer = Protocol.record();
        answer.put("brokers", created);
        return answer;
    }

    private MessageQueue queueOf(String topic, int queueId) throws Exception {
        TopicRouteData route = admin.examineTopicRouteInfo(topic);
        for (QueueData data : route.getQueueDatas()) {
            if (queueId < data.getReadQueueNums()) {
                return new MessageQueue(topic, data.getBrokerName(), queueId);
            }
        }
        throw new IllegalArgumentException("topic " + topic + " has no queue " + queueId);
    }

    private Map<String, Object> offsets(String topic, String group) throws Exception {
        TopicRouteData route = admin.examineTopicRouteInfo(topic);
        List<Map<String, Object>> queues = new ArrayList<>();
        for (QueueData data : route.getQueueDatas()) {
            String address = null;
            for (BrokerData broker : route.getBrokerDatas()) {
                if (broker.getBrokerName().equals(data.getBrokerName())) {
                    address = broker.selectBrokerAddr();
                }
            }
            for (int queueId = 0; queueId < data.getReadQueueNums(); queueId++) {
                MessageQueue queue = new MessageQueue(topic, data.getBrokerName(), queueId);
                Map<String, Object> one = Protocol.record();
                one.put("broker_name", data.getBrokerName());
                one.put("queue_id", queueId);
                one.put("min", admin.minOffset(queue));
                one.put("max", admin.maxOffset(queue));
                try {
                    one.put("earliest_store_time", admin.earliestMsgStoreTime(queue));
                } catch (MQClientException error) {
                    one.put("earliest_store_time_error", codeOf(error));
                }
                if (group != null) {
                    QueryConsumerOffsetRequestHeader header = new QueryConsumerOffsetRequestHeader();
                    header.setConsumerGroup(group);
                    header.setTopic(topic);
                    header.setQueueId(queueId);
                    // Not "0 for a young queue": a group that never committed is told so.
                    header.setSetZeroIfNotFound(false);
                    try {
                        one.put("consumer_offset",
                            client.getMQClientAPIImpl().queryConsumerOffset(address, header, TIMEOUT_MILLIS));
                    } catch (MQBrokerException error) {
                        one.put("consumer_offset_error", error.getResponseCode());
                    }
                }
                queues.add(one);
            }
        }
        Map<String, Object> answer = Protocol.record();
        answer.put("queues", queues);
        return answer;
    }

    private Map<String, Object> consumers(String group) throws Exception {
        ClusterInfo info = admin.examineBrokerClusterInfo();
        List<String> ids = new ArrayList<>();
        for (BrokerData broker : info.getBrokerAddrTable().values()) {
            List<String> found = client.getMQClientAPIImpl()
                .getConsumerIdListByGroup(broker.selectBrokerAddr(), group, TIMEOUT_MILLIS);
            if (found != null) {
                ids.addAll(found);
            }
        }
        ids.sort(null);
        Map<String, Object> answer = Protocol.record();
        answer.put("client_ids", ids);
        return answer;
    }

    private static Map<String, Object> consumeStats(ConsumeStats stats) {
        List<Map<String, Object>> queues = new ArrayList<>();
        for (Map.Entry<MessageQueue, OffsetWrapper> entry : new TreeMap<>(stats.getOffsetTable()).entrySet()) {
            Map<String, Object> one = Protocol.record();
            one.put("topic", entry.getKey().getTopic());
            one.put("queue_id", entry.getKey().getQueueId());
            one.put("broker_offset", entry.getValue().getBrokerOffset());
            one.put("consumer_offset", entry.getValue().getConsumerOffset());
            queues.add(one);
        }
        Map<String, Object> answer = Protocol.record();
        answer.put("queues", queues);
        return answer;
    }
}
