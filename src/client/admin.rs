//! `NativeAdmin`: the cluster administration calls behind `rocketmq.admin.Admin` (cluster
//! info, topic creation and routes, message lookups, consumer groups' configs), each a
//! blocking call with the GIL released.
//!
//! Answers are plain Python values (dicts, lists, tuples, or a group config's JSON text)
//! built here; `rocketmq.admin` gives them their public shape.

use super::message::ReceivedMessage;
use super::runtime::block_on;
use super::settings::{client_config, name_servers, Credentials};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rocketmq_client::{Admin, ClientInstance, TopicSpec};
use rocketmq_protocol::body::{encode_json, SubscriptionGroupConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct NativeAdmin {
    client: Arc<ClientInstance>,
}

impl NativeAdmin {
    fn admin(&self) -> Admin {
        Admin::new(self.client.clone())
    }
}

/// One broker's queues of a topic: `(broker_name, read_queues, write_queues, perm)`.
type QueueRouteTuple = (String, i32, i32, i32);

/// A lookup the brokers answered with QUERY_NOT_FOUND as `None`; other failures stay errors.
fn not_found_as_none<T>(r: rocketmq_client::Result<T>) -> rocketmq_client::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rocketmq_client::ClientError::Remote { code, .. })
            if code == rocketmq_protocol::code::response_code::QUERY_NOT_FOUND =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// One queue's consume stats: `(topic, broker_name, queue_id, broker_offset,
/// consumer_offset, pull_offset, last_timestamp)`.
type ConsumeStatsTuple = (String, String, i32, i64, i64, i64, i64);

fn deadline(timeout_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(timeout_ms)
}

#[pymethods]
impl NativeAdmin {
    #[new]
    #[pyo3(signature = (*, name_servers_list, timeout_ms = 10000, credentials = None))]
    fn new(
        name_servers_list: &str,
        timeout_ms: u64,
        credentials: Option<Credentials>,
    ) -> PyResult<Self> {
        crate::logging::follow_python_levels();
        let config = rocketmq_client::ClientConfig {
            request_timeout: Duration::from_millis(timeout_ms),
            ..client_config(name_servers_list, "ADMIN", credentials, None)?
        };
        Ok(NativeAdmin {
            client: ClientInstance::new(config, None),
        })
    }

    /// `{"brokers": {name: {"cluster": c, "addrs": {id: addr}}}, "clusters": {c: [names]}}`.
    fn cluster_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let admin = self.admin();
        let info = block_on(py, async move { admin.cluster_info().await })?;
        let brokers = PyDict::new(py);
        for (name, data) in info.broker_addr_table {
            let entry = PyDict::new(py);
            entry.set_item("cluster", data.cluster)?;
            entry.set_item("addrs", data.broker_addrs)?;
            brokers.set_item(name, entry)?;
        }
        let clusters: BTreeMap<String, Vec<String>> = info
            .cluster_addr_table
            .into_iter()
            .map(|(c, names)| (c, names.into_iter().collect()))
            .collect();
        let out = PyDict::new(py);
        out.set_item("brokers", brokers)?;
        out.set_item("clusters", clusters)?;
        Ok(out)
    }

    /// Broker name -> master address, waiting up to `timeout_ms` for a first broker.
    fn wait_for_brokers(
        &self,
        py: Python<'_>,
        timeout_ms: u64,
    ) -> PyResult<BTreeMap<String, String>> {
        let admin = self.admin();
        let until = deadline(timeout_ms);
        block_on(py, async move { admin.wait_for_brokers(until).await })
    }

    /// Creates the topic on every master broker; returns their names once routed.
    /// `message_type` (one of NORMAL, FIFO, DELAY, TRANSACTION, PRIORITY, MIXED) sets the topic's
    /// `message.type` attribute; `None` leaves its attributes as they are.
    #[pyo3(signature = (topic, read_queues, write_queues, perm, order, timeout_ms, message_type = None))]
    #[allow(clippy::too_many_arguments)]
    fn create_topic(
        &self,
        py: Python<'_>,
        topic: String,
        read_queues: i32,
        write_queues: i32,
        perm: i32,
        order: bool,
        timeout_ms: u64,
        message_type: Option<String>,
    ) -> PyResult<Vec<String>> {
        let admin = self.admin();
        let spec = TopicSpec {
            topic,
            read_queues,
            write_queues,
            perm,
            order,
            message_type,
        };
        let until = deadline(timeout_ms);
        block_on(py, async move { admin.create_topic(&spec, until).await })
    }

    /// `[(broker_name, read_queues, write_queues, perm)]` of the topic's route, or `None`
    /// when the name servers do not know it.
    fn topic_route(&self, py: Python<'_>, topic: String) -> PyResult<Option<Vec<QueueRouteTuple>>> {
        let admin = self.admin();
        let route = block_on(py, async move { admin.topic_route(&topic).await })?;
        Ok(route.map(|r| {
            r.queue_datas
                .into_iter()
                .map(|q| (q.broker_name, q.read_queue_nums, q.write_queue_nums, q.perm))
                .collect()
        }))
    }

    /// The offset of the first message stored at or after `timestamp_ms` in the queue.
    #[pyo3(signature = (topic, queue_id, timestamp_ms, broker_name = None))]
    fn search_offset(
        &self,
        py: Python<'_>,
        topic: String,
        queue_id: i32,
        timestamp_ms: i64,
        broker_name: Option<String>,
    ) -> PyResult<i64> {
        let admin = self.admin();
        block_on(py, async move {
            admin
                .search_offset(&topic, queue_id, timestamp_ms, broker_name.as_deref())
                .await
        })
    }

    /// Messages of `topic` whose `KEYS` hold `key`, stored between the two times (ms,
    /// inclusive), newest first, at most `max_num`; `[]` when none.
    fn query_messages_by_key(
        &self,
        py: Python<'_>,
        topic: String,
        key: String,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> PyResult<Vec<ReceivedMessage>> {
        let admin = self.admin();
        let found = block_on(py, async move {
            not_found_as_none(
                admin
                    .query_messages_by_key(&topic, &key, max_num, begin_ms, end_ms)
                    .await,
            )
        })?;
        Ok(found
            .unwrap_or_default()
            .into_iter()
            .map(ReceivedMessage::from_message)
            .collect())
    }

    /// The message with this offset message id, or (with `topic`) this unique id; `None`
    /// when the brokers answered that there is none.
    #[pyo3(signature = (msg_id, topic = None))]
    fn view_message(
        &self,
        py: Python<'_>,
        msg_id: String,
        topic: Option<String>,
    ) -> PyResult<Option<ReceivedMessage>> {
        let admin = self.admin();
        let found = block_on(py, async move {
            not_found_as_none(admin.view_message(&msg_id, topic.as_deref()).await)
        })?;
        Ok(found.map(ReceivedMessage::from_message))
    }

    /// Resets the group's offsets on every queue of the topic to the time; answers
    /// `[(broker_name, queue_id, new_offset)]`.
    fn reset_offset_by_time(
        &self,
        py: Python<'_>,
        topic: String,
        group: String,
        timestamp_ms: i64,
    ) -> PyResult<Vec<(String, i32, i64)>> {
        let admin = self.admin();
        let table = block_on(py, async move {
            admin
                .reset_offset_by_time(&topic, &group, timestamp_ms)
                .await
        })?;
        Ok(table
            .into_iter()
            .map(|(mq, offset)| (mq.broker_name, mq.queue_id, offset))
            .collect())
    }

    /// The group's consume stats from every master broker: one tuple per queue, in topic,
    /// broker, queue order.
    #[pyo3(signature = (group, topic = None))]
    fn consume_stats(
        &self,
        py: Python<'_>,
        group: String,
        topic: Option<String>,
    ) -> PyResult<Vec<ConsumeStatsTuple>> {
        let admin = self.admin();
        let stats = block_on(py, async move {
            admin.consume_stats(&group, topic.as_deref()).await
        })?;
        Ok(stats
            .offset_table
            .into_iter()
            .map(|(mq, w)| {
                (
                    mq.topic,
                    mq.broker_name,
                    mq.queue_id,
                    w.broker_offset,
                    w.consumer_offset,
                    w.pull_offset,
                    w.last_timestamp,
                )
            })
            .collect())
    }

    /// Creates or replaces a consumer group's config on every master broker (the fields not
    /// passed take Java's defaults); returns the brokers' names.
    #[pyo3(signature = (group, consume_message_orderly, retry_max_times, consume_broadcast_enable, consume_enable))]
    fn create_subscription_group(
        &self,
        py: Python<'_>,
        group: String,
        consume_message_orderly: bool,
        retry_max_times: i32,
        consume_broadcast_enable: bool,
        consume_enable: bool,
    ) -> PyResult<Vec<String>> {
        let admin = self.admin();
        let mut config = SubscriptionGroupConfig::new(group);
        config.consume_message_orderly = consume_message_orderly;
        config.retry_max_times = retry_max_times;
        config.consume_broadcast_enable = consume_broadcast_enable;
        config.consume_enable = consume_enable;
        block_on(
            py,
            async move { admin.create_subscription_group(&config).await },
        )
    }

    /// A consumer group's config as the broker's JSON text, or `None` when no master broker
    /// has the group.
    fn subscription_group(&self, py: Python<'_>, group: String) -> PyResult<Option<String>> {
        let admin = self.admin();
        let config = block_on(py, async move { admin.subscription_group(&group).await })?;
        Ok(config.map(|c| String::from_utf8_lossy(&encode_json(&c)).into_owned()))
    }

    /// Every consumer group's config, `{group: config}` as JSON text.
    fn list_subscription_groups(&self, py: Python<'_>) -> PyResult<String> {
        let admin = self.admin();
        let all = block_on(py, async move { admin.list_subscription_groups().await })?;
        Ok(String::from_utf8_lossy(&encode_json(&all)).into_owned())
    }

    /// Deletes a consumer group's config on every master broker (and, asked to, its
    /// committed offsets); returns their names.
    fn delete_subscription_group(
        &self,
        py: Python<'_>,
        group: String,
        clean_offset: bool,
    ) -> PyResult<Vec<String>> {
        let admin = self.admin();
        block_on(py, async move {
            admin.delete_subscription_group(&group, clean_offset).await
        })
    }

    /// Replaces the name-server list (`"host:port;host:port"`).
    fn set_name_servers(&self, list: &str) {
        self.client.set_name_servers(name_servers(list));
    }

    /// Closes the connections.
    fn shutdown(&self, py: Python<'_>) {
        let c = self.client.clone();
        py.detach(|| c.shutdown());
    }
}
