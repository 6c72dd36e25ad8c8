//! `NativePullClient`: route lookups, single pulls and the group's committed offsets for
//! `rocketmq.client.PullConsumer` and `rocketmq.asyncio.PullConsumer`, whose offset
//! bookkeeping stays in Python so that subclasses can override it.
//!
//! Every call exists twice: blocking (GIL released for the wait) for the thread API, and
//! `*_async` for asyncio, which returns at once and has `callback(ok, value or error text)`
//! called later on the send-callback thread (see `completion.rs`). An async pull may be a
//! long poll (`suspend_ms`): the broker holds it until a message arrives or the time is up.

use super::completion::{on_dispatcher_thread, spawn_with_callback, PendingCallbacks};
use super::message::ReceivedMessage;
use super::runtime::{block_on, runtime};
use super::settings::{client_config, name_servers, Credentials};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use rocketmq_client::{
    ClientError, ClientInstance, ExpressionType, MessageFilter, MessageQueue, PullRequest,
    PullResult, PullStatus,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long `shutdown` waits for the callbacks of async calls it ended, in milliseconds.
const SHUTDOWN_CALLBACK_WAIT_MS: u64 = 5_000;

/// Longest long poll accepted, in milliseconds (the broker's own bound is similar).
const MAX_SUSPEND_MS: u64 = 60_000;

/// `(status, next_begin_offset, min_offset, max_offset, messages)`.
fn pull_tuple<'py>(py: Python<'py>, r: PullResult) -> PyResult<Bound<'py, PyTuple>> {
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

fn queue(topic: String, broker_name: String, queue_id: i32) -> MessageQueue {
    MessageQueue {
        topic,
        broker_name,
        queue_id,
    }
}

fn queue_tuples(route: &rocketmq_client::TopicRoute) -> Vec<(String, String, i32)> {
    route
        .subscribe
        .iter()
        .map(|q| (q.topic.clone(), q.broker_name.clone(), q.queue_id))
        .collect()
}

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct NativePullClient {
    client: Arc<ClientInstance>,
    group: String,
    /// Async calls whose callback has not run yet.
    pending: Arc<PendingCallbacks>,
    /// Set by `shutdown`: ends async calls in flight (a long poll included) at once.
    stopped: watch::Sender<bool>,
}

impl NativePullClient {
    /// `fut`, ended with `ClientError::ShutDown` as soon as `shutdown` is called.
    fn until_shutdown<F, T>(
        &self,
        fut: F,
    ) -> impl Future<Output = rocketmq_client::Result<T>> + Send + 'static
    where
        F: Future<Output = rocketmq_client::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let mut stopped = self.stopped.subscribe();
        async move {
            tokio::select! {
                r = fut => r,
                _ = stopped.wait_for(|s| *s) => Err(rocketmq_client::ClientError::ShutDown),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        topic: String,
        broker_name: String,
        queue_id: i32,
        filter: MessageFilter,
        offset: i64,
        max_num: i32,
        suspend_ms: u64,
    ) -> PullRequest {
        PullRequest {
            group: self.group.clone(),
            queue: queue(topic, broker_name, queue_id),
            offset,
            max_msgs: max_num.max(1),
            filter,
            suspend: (suspend_ms > 0)
                .then(|| Duration::from_millis(suspend_ms.min(MAX_SUSPEND_MS))),
            commit_offset: None,
        }
    }

    /// CHECK_CLIENT_CONFIG of an expression on every master of `topic`, as a push consumer
    /// checks its subscriptions: the first refusal is the error.
    fn check_filter(
        &self,
        topic: String,
        filter: MessageFilter,
    ) -> impl Future<Output = rocketmq_client::Result<()>> + Send + 'static {
        let (c, group) = (self.client.clone(), self.group.clone());
        async move {
            if filter.is_tag() {
                return Ok(());
            }
            let route = c.fetch_route(&topic).await?;
            let data = filter.subscription_data(&topic, rocketmq_protocol::now_millis());
            for addr in route.masters.values() {
                c.check_client_config(addr, &group, &data).await?;
            }
            Ok(())
        }
    }
}

/// A filter from `(expression, expression_type)`; a bad type or an empty SQL92 expression is
/// a `ValueError`.
fn filter(expression: &str, expression_type: &str) -> PyResult<MessageFilter> {
    ExpressionType::parse(expression_type)
        .and_then(|t| MessageFilter::new(expression, t))
        .map_err(|e: ClientError| PyValueError::new_err(e.to_string()))
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
        crate::logging::follow_python_levels();
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
        Ok(NativePullClient {
            client,
            group,
            pending: Arc::new(PendingCallbacks::default()),
            stopped: watch::Sender::new(false),
        })
    }

    /// The readable queues of `topic` as `(topic, broker_name, queue_id)`, sorted.
    fn fetch_subscribe_queues(
        &self,
        py: Python<'_>,
        topic: String,
    ) -> PyResult<Vec<(String, String, i32)>> {
        let c = self.client.clone();
        let route = block_on(py, async move { c.fetch_route(&topic).await })?;
        Ok(queue_tuples(&route))
    }

    /// `fetch_subscribe_queues` for asyncio: `callback(True, [queue tuples])` or
    /// `callback(False, error text)` later, on the send-callback thread.
    fn fetch_subscribe_queues_async(&self, topic: String, callback: Py<PyAny>) {
        let c = self.client.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            (),
            self.until_shutdown(async move { c.fetch_route(&topic).await }),
            |py, route| Ok(queue_tuples(&route).into_pyobject(py)?.into_any()),
        );
    }

    /// Asks every broker of `topic` whether it accepts the expression (CHECK_CLIENT_CONFIG;
    /// nothing is asked for a tag expression): raises `FilterExpressionRefused` with the
    /// broker's reason when one refuses it.
    #[pyo3(signature = (topic, expression, expression_type="TAG"))]
    fn check_expression(
        &self,
        py: Python<'_>,
        topic: String,
        expression: &str,
        expression_type: &str,
    ) -> PyResult<()> {
        let check = self.check_filter(topic, filter(expression, expression_type)?);
        block_on(py, check)
    }

    /// One non-blocking pull: `(status, next_begin_offset, min_offset, max_offset, messages)`
    /// with status 0 FOUND, 1 NO_NEW_MSG, 2 NO_MATCHED_MSG, 3 OFFSET_ILLEGAL.
    /// `expression_type` is "TAG" or "SQL92" (any case).
    #[pyo3(signature = (topic, broker_name, queue_id, expression, offset, max_num, expression_type="TAG"))]
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
        expression_type: &str,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let f = filter(expression, expression_type)?;
        let req = self.request(topic, broker_name, queue_id, f, offset, max_num, 0);
        let c = self.client.clone();
        let r = block_on(py, async move { c.pull(&req).await })?;
        pull_tuple(py, r)
    }

    /// `pull` for asyncio, returning at once: `callback(True, pull tuple)` or
    /// `callback(False, error text)` later. With `suspend_ms` > 0 it is a long poll: the
    /// broker answers when a message arrives or after `suspend_ms` (at most 60 s).
    #[pyo3(signature = (topic, broker_name, queue_id, expression, offset, max_num, suspend_ms, callback, expression_type="TAG"))]
    #[allow(clippy::too_many_arguments)]
    fn pull_async(
        &self,
        topic: String,
        broker_name: String,
        queue_id: i32,
        expression: &str,
        offset: i64,
        max_num: i32,
        suspend_ms: u64,
        callback: Py<PyAny>,
        expression_type: &str,
    ) -> PyResult<()> {
        let f = filter(expression, expression_type)?;
        let req = self.request(topic, broker_name, queue_id, f, offset, max_num, suspend_ms);
        let c = self.client.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            (),
            self.until_shutdown(async move { c.pull(&req).await }),
            |py, r| Ok(pull_tuple(py, r)?.into_any()),
        );
        Ok(())
    }

    /// The group's offset committed on the broker for the queue; `None` when it has none.
    fn query_offset(
        &self,
        py: Python<'_>,
        topic: String,
        broker_name: String,
        queue_id: i32,
    ) -> PyResult<Option<i64>> {
        let (c, group, mq) = (
            self.client.clone(),
            self.group.clone(),
            queue(topic, broker_name, queue_id),
        );
        block_on(
            py,
            async move { c.query_consumer_offset(&group, &mq).await },
        )
    }

    /// `query_offset` for asyncio: `callback(True, offset or None)` later.
    fn query_offset_async(
        &self,
        topic: String,
        broker_name: String,
        queue_id: i32,
        callback: Py<PyAny>,
    ) {
        let (c, group, mq) = (
            self.client.clone(),
            self.group.clone(),
            queue(topic, broker_name, queue_id),
        );
        spawn_with_callback(
            &self.pending,
            callback,
            (),
            self.until_shutdown(async move { c.query_consumer_offset(&group, &mq).await }),
            |py, offset| Ok(offset.into_pyobject(py)?.into_any()),
        );
    }

    /// Commits the group's offset of the queue on the broker (UPDATE_CONSUMER_OFFSET) and
    /// waits for the answer.
    fn commit_offset(
        &self,
        py: Python<'_>,
        topic: String,
        broker_name: String,
        queue_id: i32,
        offset: i64,
    ) -> PyResult<()> {
        let (c, group, mq) = (
            self.client.clone(),
            self.group.clone(),
            queue(topic, broker_name, queue_id),
        );
        block_on(py, async move {
            c.update_consumer_offset(&group, &mq, offset).await
        })
    }

    /// `commit_offset` for asyncio: `callback(True, None)` once the broker answered.
    fn commit_offset_async(
        &self,
        topic: String,
        broker_name: String,
        queue_id: i32,
        offset: i64,
        callback: Py<PyAny>,
    ) {
        let (c, group, mq) = (
            self.client.clone(),
            self.group.clone(),
            queue(topic, broker_name, queue_id),
        );
        spawn_with_callback(
            &self.pending,
            callback,
            (),
            self.until_shutdown(async move { c.update_consumer_offset(&group, &mq, offset).await }),
            |py, ()| Ok(py.None().into_bound(py)),
        );
    }

    /// Replaces the name-server list (`"host:port;host:port"`).
    fn set_name_servers(&self, list: &str) {
        self.client.set_name_servers(name_servers(list));
    }

    /// Ends the async calls in flight (their callbacks get the error "the client has been
    /// shut down"), stops the route refresh and closes the connections, then waits (GIL
    /// released, at most 5 s, not on the callback thread) for those callbacks to have run.
    fn shutdown(&self, py: Python<'_>) {
        self.stopped.send_replace(true);
        let (c, pending) = (self.client.clone(), self.pending.clone());
        py.detach(|| {
            c.shutdown();
            if !on_dispatcher_thread() {
                pending.wait_idle(Duration::from_millis(SHUTDOWN_CALLBACK_WAIT_MS));
            }
        });
    }
}
