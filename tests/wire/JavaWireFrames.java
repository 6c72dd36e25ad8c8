/*
 * Apache RocketMQ's own remoting classes (RemotingCommand, the header classes, fastjson2) on
 * the two sides of the wire comparison in crates/protocol/tests/java_wire.rs.
 *
 * `java JavaWireFrames.java` (encode) prints a `java_version <n>` line, then one line per
 * command, `<case name> <frame in base64>`: a set of typical requests and answers, each frame
 * what Netty's encoder puts on the socket (length prefix, header, body). Every value is fixed
 * here and the same values are used on the Rust side; the header fields set are the ones the
 * Java client, broker and name server set for that command (named at each case).
 *
 * `java JavaWireFrames.java decode <file>` reads our frames (`<case name> <frame in hex>`
 * lines, written by the Rust test) with Java's decoder, the typed header of the case
 * included, and prints for each `<case name> <JSON of what Java read>`; the Rust test then
 * checks that Java read what we meant. A frame Java cannot read stops it with an error.
 *
 * What must stay true: the case names and values match the Rust test's, and nothing here
 * touches a network.
 */

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import com.alibaba.fastjson2.JSON;
import org.apache.rocketmq.remoting.CommandCustomHeader;
import org.apache.rocketmq.common.MQVersion;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.ResponseCode;
import org.apache.rocketmq.remoting.protocol.header.HeartbeatRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.PullMessageRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.PullMessageResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.QueryConsumerOffsetRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.QueryConsumerOffsetResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.SendMessageRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.SendMessageRequestHeaderV2;
import org.apache.rocketmq.remoting.protocol.header.SendMessageResponseHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.GetRouteInfoRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.RegisterBrokerRequestHeader;
import org.apache.rocketmq.remoting.protocol.header.namesrv.RegisterBrokerResponseHeader;
import org.apache.rocketmq.remoting.protocol.heartbeat.ConsumeType;
import org.apache.rocketmq.remoting.protocol.heartbeat.ConsumerData;
import org.apache.rocketmq.remoting.protocol.heartbeat.HeartbeatData;
import org.apache.rocketmq.remoting.protocol.heartbeat.MessageModel;
import org.apache.rocketmq.remoting.protocol.heartbeat.ProducerData;
import org.apache.rocketmq.remoting.protocol.heartbeat.SubscriptionData;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.route.QueueData;
import org.apache.rocketmq.remoting.protocol.route.TopicRouteData;
import com.alibaba.fastjson2.JSONWriter;

public final class JavaWireFrames {
    static final String TOPIC = "TopicA";
    static final String BROKER_NAME = "broker-a";
    static final String BROKER_ADDR = "127.0.0.1:10911";
    static final String PRODUCER_GROUP = "PG";
    static final String CONSUMER_GROUP = "CG";
    static final long BORN_TIMESTAMP = 1700000000000L;
    static final long SUB_VERSION = 1700000000123L;
    static final String PROPERTIES = "UNIQ_KEY\u0001AC1100010000000000000000000A\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002";
    static final byte[] MESSAGE_BODY = "hello wire".getBytes(StandardCharsets.UTF_8);

    private JavaWireFrames() {
    }

    /** The custom header class each case's receiver decodes. */
    static final Map<String, Class<? extends CommandCustomHeader>> HEADER_CLASSES = new LinkedHashMap<>();

    static {
        HEADER_CLASSES.put("send_v2_request", SendMessageRequestHeaderV2.class);
        HEADER_CLASSES.put("send_response", SendMessageResponseHeader.class);
        HEADER_CLASSES.put("pull_request", PullMessageRequestHeader.class);
        HEADER_CLASSES.put("pull_found_response", PullMessageResponseHeader.class);
        HEADER_CLASSES.put("pull_not_found_response", PullMessageResponseHeader.class);
        HEADER_CLASSES.put("query_offset_request", QueryConsumerOffsetRequestHeader.class);
        HEADER_CLASSES.put("query_offset_response", QueryConsumerOffsetResponseHeader.class);
        HEADER_CLASSES.put("register_broker_request", RegisterBrokerRequestHeader.class);
        HEADER_CLASSES.put("register_broker_response", RegisterBrokerResponseHeader.class);
        HEADER_CLASSES.put("route_request", GetRouteInfoRequestHeader.class);
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("decode")) {
            decodeOurs(Path.of(args[1]));
            return;
        }
        // What MQClientAPIImpl (client) and BrokerStartup / NamesrvStartup do before any command.
        System.setProperty(RemotingCommand.REMOTING_VERSION_KEY, Integer.toString(MQVersion.CURRENT_VERSION));
        System.out.println("java_version " + MQVersion.CURRENT_VERSION);

        sendMessageV2();
        pullMessage();
        heartbeat();
        queryConsumerOffset();
        registerBroker();
        routeQuery();
    }

    /** DefaultMQProducerImpl.sendKernelImpl + MQClientAPIImpl.sendMessage; SendMessageProcessor. */
    static void sendMessageV2() throws Exception {
        SendMessageRequestHeader v1 = new SendMessageRequestHeader();
        v1.setProducerGroup(PRODUCER_GROUP);
        v1.setTopic(TOPIC);
        v1.setDefaultTopic("TBW102");
        v1.setDefaultTopicQueueNums(4);
        v1.setQueueId(1);
        v1.setSysFlag(0);
        v1.setBornTimestamp(BORN_TIMESTAMP);
        v1.setFlag(0);
        v1.setProperties(PROPERTIES);
        v1.setReconsumeTimes(0);
        v1.setUnitMode(false);
        v1.setBatch(false);
        v1.setBrokerName(BROKER_NAME);
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.SEND_MESSAGE_V2,
            SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2(v1));
        request.setOpaque(11);
        request.setBody(MESSAGE_BODY);
        print("send_v2_request", request);

        RemotingCommand response = RemotingCommand.createResponseCommand(SendMessageResponseHeader.class);
        SendMessageResponseHeader header = (SendMessageResponseHeader) response.readCustomHeader();
        response.setOpaque(11);
        response.setCode(ResponseCode.SUCCESS);
        response.setRemark(null);
        header.setMsgId("7F00000100002A9F0000000000000064");
        header.setQueueId(1);
        header.setQueueOffset(5L);
        header.setTransactionId("AC1100010000000000000000000A");
        response.addExtField("MSG_REGION", "DefaultRegion");
        response.addExtField("TRACE_ON", "true");
        print("send_response", response);

        RemotingCommand refused = RemotingCommand.createResponseCommand(SendMessageResponseHeader.class);
        refused.setOpaque(12);
        refused.setCode(ResponseCode.MESSAGE_ILLEGAL);
        refused.setRemark("message body size exceeds the limit");
        print("send_refused_response", refused);
    }

    /** PullAPIWrapper.pullKernelImpl; PullMessageProcessor. */
    static void pullMessage() throws Exception {
        PullMessageRequestHeader header = new PullMessageRequestHeader();
        header.setConsumerGroup(CONSUMER_GROUP);
        header.setTopic(TOPIC);
        header.setQueueId(1);
        header.setQueueOffset(0L);
        header.setMaxMsgNums(32);
        header.setSysFlag(7);
        header.setCommitOffset(3L);
        header.setSuspendTimeoutMillis(15000L);
        header.setSubscription("TagA");
        header.setSubVersion(SUB_VERSION);
        header.setMaxMsgBytes(Integer.MAX_VALUE);
        header.setExpressionType("TAG");
        header.setBrokerName(BROKER_NAME);
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.PULL_MESSAGE, header);
        request.setOpaque(21);
        print("pull_request", request);

        RemotingCommand found = RemotingCommand.createResponseCommand(PullMessageResponseHeader.class);
        PullMessageResponseHeader answer = (PullMessageResponseHeader) found.readCustomHeader();
        found.setOpaque(21);
        // PullMessageProcessor keeps the store's status name as the remark.
        found.setCode(ResponseCode.SUCCESS);
        found.setRemark("FOUND");
        answer.setNextBeginOffset(2L);
        answer.setMinOffset(0L);
        answer.setMaxOffset(2L);
        answer.setTopicSysFlag(0);
        answer.setGroupSysFlag(0);
        answer.setSuggestWhichBrokerId(0L);
        found.setBody(MESSAGE_BODY);
        print("pull_found_response", found);

        RemotingCommand none = RemotingCommand.createResponseCommand(PullMessageResponseHeader.class);
        PullMessageResponseHeader noneHeader = (PullMessageResponseHeader) none.readCustomHeader();
        none.setOpaque(22);
        none.setCode(ResponseCode.PULL_NOT_FOUND);
        none.setRemark("OFFSET_OVERFLOW_ONE");
        noneHeader.setNextBeginOffset(2L);
        noneHeader.setMinOffset(0L);
        noneHeader.setMaxOffset(2L);
        noneHeader.setTopicSysFlag(0);
        noneHeader.setGroupSysFlag(0);
        noneHeader.setSuggestWhichBrokerId(0L);
        print("pull_not_found_response", none);
    }

    /** MQClientInstance.prepareHeartbeatData + MQClientAPIImpl.sendHeartbeat; ClientManageProcessor. */
    static void heartbeat() throws Exception {
        SubscriptionData subscription = new SubscriptionData();
        subscription.setTopic(TOPIC);
        subscription.setSubString("TagA");
        subscription.setTagsSet(new HashSet<>(Collections.singletonList("TagA")));
        subscription.setCodeSet(new HashSet<>(Collections.singletonList("TagA".hashCode())));
        subscription.setSubVersion(SUB_VERSION);
        subscription.setExpressionType("TAG");
        ConsumerData consumer = new ConsumerData();
        consumer.setGroupName(CONSUMER_GROUP);
        consumer.setConsumeType(ConsumeType.CONSUME_PASSIVELY);
        consumer.setMessageModel(MessageModel.CLUSTERING);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
        consumer.getSubscriptionDataSet().add(subscription);
        consumer.setUnitMode(false);
        ProducerData producer = new ProducerData();
        producer.setGroupName(PRODUCER_GROUP);
        HeartbeatData data = new HeartbeatData();
        data.setClientID("127.0.0.1@4242#0");
        data.getConsumerDataSet().add(consumer);
        data.getProducerDataSet().add(producer);

        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.HEART_BEAT, new HeartbeatRequestHeader());
        request.setOpaque(31);
        request.setBody(data.encode());
        print("heartbeat_request", request);

        RemotingCommand response = RemotingCommand.createResponseCommand(null);
        response.setOpaque(31);
        response.setCode(ResponseCode.SUCCESS);
        response.setRemark(null);
        response.addExtField("IS_SUPPORT_HEART_BEAT_V2", "true");
        response.addExtField("IS_SUB_CHANGE", "true");
        print("heartbeat_response", response);
    }

    /** RemoteBrokerOffsetStore.fetchConsumeOffsetFromBroker; ConsumerManageProcessor. */
    static void queryConsumerOffset() throws Exception {
        QueryConsumerOffsetRequestHeader header = new QueryConsumerOffsetRequestHeader();
        header.setTopic(TOPIC);
        header.setConsumerGroup(CONSUMER_GROUP);
        header.setQueueId(1);
        header.setBrokerName(BROKER_NAME);
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.QUERY_CONSUMER_OFFSET, header);
        request.setOpaque(41);
        print("query_offset_request", request);

        RemotingCommand found = RemotingCommand.createResponseCommand(QueryConsumerOffsetResponseHeader.class);
        ((QueryConsumerOffsetResponseHeader) found.readCustomHeader()).setOffset(5L);
        found.setOpaque(41);
        found.setCode(ResponseCode.SUCCESS);
        found.setRemark(null);
        print("query_offset_response", found);

        RemotingCommand missing = RemotingCommand.createResponseCommand(QueryConsumerOffsetResponseHeader.class);
        missing.setOpaque(42);
        missing.setCode(ResponseCode.QUERY_NOT_FOUND);
        missing.setRemark("Not found, do not set to zero, maybe this group boot first");
        print("query_offset_not_found_response", missing);
    }

    /** BrokerOuterAPI.registerBrokerAll; DefaultRequestProcessor.registerBroker (a master). */
    static void registerBroker() throws Exception {
        RegisterBrokerRequestHeader header = new RegisterBrokerRequestHeader();
        header.setBrokerAddr(BROKER_ADDR);
        header.setBrokerId(0L);
        header.setBrokerName(BROKER_NAME);
        header.setClusterName("DefaultCluster");
        header.setHaServerAddr("127.0.0.1:10912");
        header.setEnableActingMaster(false);
        header.setCompressed(false);
        header.setBodyCrc32(123456789);
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.REGISTER_BROKER, header);
        request.setOpaque(51);
        print("register_broker_request", request);

        RemotingCommand response = RemotingCommand.createResponseCommand(RegisterBrokerResponseHeader.class);
        response.setOpaque(51);
        response.setCode(ResponseCode.SUCCESS);
        response.setRemark(null);
        print("register_broker_response", response);
    }

    /** MQClientAPIImpl.getTopicRouteInfoFromNameServer; ClientRequestProcessor.getRouteInfoByTopic. */
    @SuppressWarnings("deprecation") // MapSortField: what the 5.5 name server passes
    static void routeQuery() throws Exception {
        GetRouteInfoRequestHeader header = new GetRouteInfoRequestHeader();
        header.setTopic(TOPIC);
        RemotingCommand request = RemotingCommand.createRequestCommand(RequestCode.GET_ROUTEINFO_BY_TOPIC, header);
        request.setOpaque(61);
        print("route_request", request);

        QueueData queue = new QueueData();
        queue.setBrokerName(BROKER_NAME);
        queue.setReadQueueNums(4);
        queue.setWriteQueueNums(4);
        queue.setPerm(6);
        queue.setTopicSysFlag(0);
        HashMap<Long, String> addrs = new HashMap<>();
        addrs.put(0L, BROKER_ADDR);
        BrokerData broker = new BrokerData("DefaultCluster", BROKER_NAME, addrs);
        TopicRouteData route = new TopicRouteData();
        List<QueueData> queues = new ArrayList<>();
        queues.add(queue);
        List<BrokerData> brokers = new ArrayList<>();
        brokers.add(broker);
        route.setQueueDatas(queues);
        route.setBrokerDatas(brokers);
        route.setFilterServerTable(new HashMap<>());
        RemotingCommand response = RemotingCommand.createResponseCommand(null);
        response.setOpaque(61);
        response.setCode(ResponseCode.SUCCESS);
        response.setRemark(null);
        // The form a 5.5 name server answers a request with acceptStandardJsonOnly=true.
        response.setBody(route.encode(JSONWriter.Feature.BrowserCompatible, JSONWriter.Feature.MapSortField));
        print("route_response", response);

        RemotingCommand missing = RemotingCommand.createResponseCommand(null);
        missing.setOpaque(62);
        missing.setCode(ResponseCode.TOPIC_NOT_EXIST);
        missing.setRemark("No topic route info in name server for the topic: TopicX");
        print("route_not_exist_response", missing);
    }

    /** Reads each of our frames as a Java peer does and prints what it read. */
    static void decodeOurs(Path file) throws Exception {
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            String[] parts = line.trim().split(" ");
            String name = parts[0];
            byte[] frame = HexFormat.of().parseHex(parts[1]);
            ByteBuffer buffer = ByteBuffer.wrap(frame);
            int length = buffer.getInt();
            if (length != frame.length - 4) {
                throw new IllegalStateException(name + ": length prefix " + length + " for " + frame.length + " bytes");
            }
            // NettyDecoder strips the length prefix; decode() reads the rest.
            RemotingCommand command = RemotingCommand.decode(buffer.slice());
            Map<String, Object> read = new LinkedHashMap<>();
            read.put("code", command.getCode());
            read.put("language", command.getLanguage().name());
            read.put("version", command.getVersion());
            read.put("opaque", command.getOpaque());
            read.put("flag", command.getFlag());
            read.put("remark", command.getRemark());
            read.put("serializeTypeCurrentRPC", command.getSerializeTypeCurrentRPC().name());
            read.put("extFields", command.getExtFields() == null ? null : new TreeMap<>(command.getExtFields()));
            read.put("body", command.getBody() == null ? "" : HexFormat.of().formatHex(command.getBody()));
            Class<? extends CommandCustomHeader> headerClass = HEADER_CLASSES.get(name);
            if (headerClass != null) {
                // Decodes as the receiver does (required fields checked), then writes the
                // typed header back out: the fields Java understood, by name and value.
                CommandCustomHeader header = command.decodeCommandCustomHeader(headerClass);
                RemotingCommand again = RemotingCommand.createRequestCommand(0, header);
                again.makeCustomHeaderToNet();
                read.put("typedHeader", new TreeMap<>(again.getExtFields()));
            }
            System.out.println(name + " " + JSON.toJSONString(read));
        }
    }

    /** Writes the frame the way NettyEncoder does: fastEncodeHeader, then the body. */
    static void print(String name, RemotingCommand command) {
        ByteBuf out = Unpooled.buffer();
        command.fastEncodeHeader(out);
        if (command.getBody() != null) {
            out.writeBytes(command.getBody());
        }
        byte[] frame = new byte[out.readableBytes()];
        out.readBytes(frame);
        System.out.println(name + " " + Base64.getEncoder().encodeToString(frame));
    }
}
