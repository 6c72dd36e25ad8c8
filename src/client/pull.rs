//! `NativePullClient`: route lookups and single pulls for `rocketmq.client.PullConsumer`,
//! whose offset bookkeeping stays in Python so that subclasses can override it.

use super::message::ReceivedMessage;
use super::runtime::{block_on, runtime};
use super::settings::{client_config, name_servers, Credentials};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use rocketmq_client::{ClientInstance, MessageQueue, PullRequest, PullStatus, TagFilter};
use std::sync::Arc;
use std::time::Duration;

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct NativePullClient {
    client: Arc<ClientInstance>,
    group: String,
}

#[pymethods]
impl NativePullClient {
    #[new]
    #[pyo3(signature = (
        *,
        group,
        name_servers_list,
        instance_name = "DEFAULT",
        timeout_ms = 10000,
        credentials = None,
        namesrv_domain = None,
    ))]
    fn new(
        group: String,
        name_servers_list: &str,
        instance_name: &str,
        timeout_ms: u64,
        credentials: Option<Credentials>,
        namesrv_domain: Option<String>,
    ) -> PyResult<Self> {
        let config = rocketmq_client::ClientConfig {
            request_timeout: Duration::from_millis(timeout_ms),
            ..client_config(
                name_servers_list,
                instance_name,
                credentials,
                namesrv_domain,
            )?
        };
        let client = ClientInstance::new(config, None);
        client.start_maintenance(runtime().handle());
        Ok(NativePullClient { client, group })
    }

    /// The readable queues of `topic` as `(topic, broker_name, queue_id)`, sorted.
    fn fetch_subscribe_queues(
        &self,
        py: Python<'_>,
        topic: String,
    ) -> PyResult<Vec<(String, String, i32)>> {
        let c = self.client.clone();
        let route = block_on(py, async move { c.fetch_route(&topic).await })?;
        Ok(route
            .subscribe
            .iter()
            .map(|q| (q.topic.clone(), q.broker_name.clone(), q.queue_id))
            .collect())
    }

    /// One non-blocking pull: `(status, next_begin_offset, min_offset, max_offset, messages)`
    /// with status 0 FOUND, 1 NO_NEW_MSG, 2 NO_MATCHED_MSG, 3 OFFSET_ILLEGAL.
    #[pyo3(signature = (topic, broker_name, queue_id, expression, offset, max_num))]
    #[allow(clippy::too_many_arguments)]
    fn pull<'py>(
        &self,
        py: Python<'py>,
        topic: String,
        broker_name: String,
        queue_id: i32,
        expression: &str,
        offset: i64,
        max_num: i32,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let req = PullRequest {
            group: self.group.clone(),
            queue: MessageQueue {
                topic,
                broker_name,
                queue_id,
            },
            offset,
            max_msgs: max_num.max(1),
            filter: TagFilter::parse(expression),
            suspend: None,
            commit_offset: None,
        };
        let c = self.client.clone();
        let r = block_on(py, async move { c.pull(&req).await })?;
        let status = match r.status {
            PullStatus::Found => 0,
            PullStatus::NoNewMsg => 1,
            PullStatus::NoMatchedMsg => 2,
            PullStatus::OffsetIllegal => 3,
        };
        let msgs = PyList::empty(py);
        for m in r.messages {
            msgs.append(Py::new(py, ReceivedMessage::from_message(m))?)?;
        }
        (
            status,
            r.next_begin_offset,
            r.min_offset,
            r.max_offset,
            msgs,
        )
            .into_pyobject(py)
    }

    /// Replaces the name-server list (`"host:port;host:port"`).
    fn set_name_servers(&self, list: &str) {
        self.client.set_name_servers(name_servers(list));
    }

    /// Stops the route refresh and closes the connections.
    fn shutdown(&self, py: Python<'_>) {
        let c = self.client.clone();
        py.detach(|| c.shutdown());
    }
}
