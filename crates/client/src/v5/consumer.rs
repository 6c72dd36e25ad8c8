//! The 5.x consumers' requests: receiving (`ReceiveMessage`, a server stream, long polling),
//! `AckMessage`, `ChangeInvisibleDuration`, `ForwardMessageToDeadLetterQueue`, and the push
//! consumer's queue assignment (`QueryAssignment`).
//!
//! A simple consumer receives from its subscribed topics' readable queues in turn; a push
//! consumer from the queues the server assigned it (refreshed every few seconds), with
//! `auto_renew` on (the server keeps the messages invisible while they are processed).
//!
//! What must stay true: a receive waits at most the long-polling time plus one request
//! timeout, and returns early (empty) at shutdown; subscriptions are announced to the server
//! (telemetry settings) before the next receive.

use super::error::{check_status, GrpcError, GrpcResult};
use super::message::ReceivedMessage;
use super::session::{Filter, Role, Session};
use super::settings::proto_duration;
use super::transport::{first_address, to_proto_endpoints, ClientOptions};
use rocketmq_grpc::v2::{
    receive_message_response::Content, AckMessageEntry, AckMessageRequest,
    ChangeInvisibleDurationRequest, ClientType, FilterExpression,
    ForwardMessageToDeadLetterQueueRequest, MessageQueue, Permission, QueryAssignmentRequest,
    ReceiveMessageRequest,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const ASSIGNMENT_REFRESH: Duration = Duration::from_secs(5);

/// A topic's assigned queues and when they were asked for.
type Assignment = (Instant, Arc<Vec<MessageQueue>>);

pub struct Consumer {
    session: Arc<Session>,
    group: String,
    next: AtomicUsize,
    assignments: Mutex<HashMap<String, Assignment>>,
    /// True once `stop_receiving` ran: receives answer empty at once, settling still works.
    receiving_stopped: watch::Sender<bool>,
}

fn readable(mq: &MessageQueue) -> bool {
    mq.permission == Permission::Read as i32 || mq.permission == Permission::ReadWrite as i32
}

fn endpoint_of(mq: &MessageQueue, fallback: &str) -> String {
    first_address(mq.broker.as_ref().and_then(|b| b.endpoints.as_ref()))
        .unwrap_or_else(|| fallback.to_string())
}

/// Where acks and invisible-duration changes for a received message go.
pub struct ReceiptRef<'a> {
    pub topic: &'a str,
    pub message_id: &'a str,
    pub receipt_handle: &'a str,
    pub endpoint: &'a str,
}

impl Consumer {
    /// `push` selects the push consumer's behaviour (assignments, auto renew).
    pub fn new(
        options: ClientOptions,
        group: String,
        subscriptions: Vec<(String, Filter)>,
        long_polling_timeout: Duration,
        push: bool,
    ) -> GrpcResult<Self> {
        if group.trim().is_empty() {
            return Err(GrpcError::IllegalArgument(
                "consumer group is empty; pass consumer_group=\"...\"".into(),
            ));
        }
        let role = Role::Consumer {
            client_type: if push {
                ClientType::PushConsumer
            } else {
                ClientType::SimpleConsumer
            },
            group: group.clone(),
            subscriptions,
            long_polling_timeout,
        };
        Ok(Consumer {
            session: Session::new(options, role, None)?,
            group,
            next: AtomicUsize::new(0),
            assignments: Mutex::new(HashMap::new()),
            receiving_stopped: watch::channel(false).0,
        })
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    fn subscriptions(&self) -> Vec<(String, Filter)> {
        match self.session.role() {
            Role::Consumer { subscriptions, .. } => subscriptions,
            Role::Producer { .. } => Vec::new(),
        }
    }

    fn is_push(&self) -> bool {
        matches!(
            self.session.role(),
            Role::Consumer {
                client_type: ClientType::PushConsumer,
                ..
            }
        )
    }

    fn long_polling_timeout(&self) -> Duration {
        match self.session.role() {
            Role::Consumer {
                long_polling_timeout,
                ..
            } => long_polling_timeout,
            Role::Producer { .. } => Duration::from_secs(20),
        }
    }

    pub async fn start(&self) -> GrpcResult<()> {
        let topics: Vec<String> = self.subscriptions().into_iter().map(|(t, _)| t).collect();
        self.session.start(&topics).await
    }

    pub async fn shutdown(&self) {
        self.stop_receiving();
        self.session.shutdown().await
    }

    /// Ends every receive under way (they answer empty) and makes later ones answer empty
    /// at once, while acks, invisible-duration changes and dead-lettering still go out: a
    /// push consumer's first step of shutting down, so that the listeners running can
    /// settle what they hold before the session closes.
    pub fn stop_receiving(&self) {
        self.receiving_stopped.send_replace(true);
    }

    /// Adds or replaces the subscription of `topic` (its route must exist).
    pub async fn subscribe(&self, topic: &str, filter: Filter) -> GrpcResult<()> {
        self.session.ensure_running("consumer")?;
        self.session.route(topic).await?;
        self.session.open_streams();
        let topic = topic.to_string();
        self.session
            .update_role(|role| {
                if let Role::Consumer { subscriptions, .. } = role {
                    subscriptions.retain(|(t, _)| *t != topic);
                    subscriptions.push((topic, filter));
                }
            })
            .await;
        Ok(())
    }

    pub async fn unsubscribe(&self, topic: &str) -> GrpcResult<()> {
        self.session.ensure_running("consumer")?;
        self.session
            .update_role(|role| {
                if let Role::Consumer { subscriptions, .. } = role {
                    subscriptions.retain(|(t, _)| t != topic);
                }
            })
            .await;
        self.assignments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(topic);
        Ok(())
    }

    async fn assignment(&self, topic: &str) -> GrpcResult<Arc<Vec<MessageQueue>>> {
        if let Some((at, queues)) = self
            .assignments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)
        {
            if at.elapsed() < ASSIGNMENT_REFRESH && !queues.is_empty() {
                return Ok(queues.clone());
            }
        }
        let t = &self.session.transport;
        let req = QueryAssignmentRequest {
            topic: Some(t.resource(topic)),
            group: Some(t.resource(&self.group)),
            endpoints: Some(to_proto_endpoints(&t.access_points)),
        };
        let resp = t
            .stub(t.access_point())?
            .query_assignment(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())?;
        let queues: Arc<Vec<MessageQueue>> = Arc::new(
            resp.assignments
                .into_iter()
                .filter_map(|a| a.message_queue)
                .collect(),
        );
        self.assignments
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(topic.to_string(), (Instant::now(), queues.clone()));
        Ok(queues)
    }

    /// The next (topic, queue) to receive from, in turn.
    async fn next_queue(&self) -> GrpcResult<(String, Filter, MessageQueue)> {
        let subs = self.subscriptions();
        if subs.is_empty() {
            return Err(GrpcError::IllegalArgument(
                "there is no topic to receive from; subscribe first".into(),
            ));
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let (topic, filter) = subs[n % subs.len()].clone();
        let queues = if self.is_push() {
            self.assignment(&topic).await?
        } else {
            self.session.route(&topic).await?
        };
        let readable: Vec<&MessageQueue> = queues.iter().filter(|q| readable(q)).collect();
        if readable.is_empty() {
            return Err(GrpcError::Status {
                code: rocketmq_grpc::v2::Code::Forbidden as i32,
                message: format!("topic {topic} has no readable queue for this consumer"),
            });
        }
        let mq = readable[(n / subs.len()) % readable.len()].clone();
        Ok((topic, filter, mq))
    }

    /// Receives up to `max` messages, invisible to the group for `invisible` (push
    /// consumers: `None`, the server renews), waiting up to the long-polling time.
    pub async fn receive(
        &self,
        max: i32,
        invisible: Option<Duration>,
    ) -> GrpcResult<Vec<ReceivedMessage>> {
        self.session.ensure_running("consumer")?;
        if *self.receiving_stopped.borrow() {
            return Ok(Vec::new());
        }
        if max <= 0 {
            return Err(GrpcError::IllegalArgument(
                "max_message_num must be greater than 0".into(),
            ));
        }
        let (_topic, filter, mq) = self.next_queue().await?;
        let t = &self.session.transport;
        let addr = endpoint_of(&mq, t.access_point());
        let polling = self.long_polling_timeout();
        let push = self.is_push();
        let req = ReceiveMessageRequest {
            group: Some(t.resource(&self.group)),
            message_queue: Some(mq),
            filter_expression: Some(FilterExpression {
                r#type: filter.filter_type,
                expression: filter.expression,
            }),
            batch_size: max,
            invisible_duration: invisible.map(proto_duration),
            auto_renew: push,
            long_polling_timeout: Some(proto_duration(polling)),
            attempt_id: None,
        };
        let timeout = polling + t.options.request_timeout;
        let mut stop = self.session.stopped();
        let mut stop_receiving = self.receiving_stopped.subscribe();
        let work = async {
            let mut stream = t
                .stub(&addr)?
                .receive_message(t.request(req, timeout))
                .await?
                .into_inner();
            let mut messages = Vec::new();
            let mut status = None;
            while let Some(resp) = stream.message().await? {
                match resp.content {
                    Some(Content::Status(s)) => status = Some(s),
                    Some(Content::Message(m)) => {
                        messages.push(ReceivedMessage::from_proto(m, &addr))
                    }
                    Some(Content::DeliveryTimestamp(_)) | None => {}
                }
            }
            check_status(status.as_ref())?;
            Ok(messages)
        };
        tokio::select! {
            r = work => r,
            _ = stop.wait_for(|s| *s) => Ok(Vec::new()),
            _ = stop_receiving.wait_for(|s| *s) => Ok(Vec::new()),
        }
    }

    pub async fn ack(&self, r: ReceiptRef<'_>) -> GrpcResult<()> {
        self.session.ensure_running("consumer")?;
        let t = &self.session.transport;
        let req = AckMessageRequest {
            group: Some(t.resource(&self.group)),
            topic: Some(t.resource(r.topic)),
            entries: vec![AckMessageEntry {
                message_id: r.message_id.to_string(),
                receipt_handle: r.receipt_handle.to_string(),
                lite_topic: None,
            }],
        };
        let resp = t
            .stub(r.endpoint)?
            .ack_message(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())?;
        for entry in &resp.entries {
            check_status(entry.status.as_ref())?;
        }
        Ok(())
    }

    /// Makes the message invisible for `invisible` from now on; returns the new receipt handle.
    pub async fn change_invisible_duration(
        &self,
        r: ReceiptRef<'_>,
        invisible: Duration,
    ) -> GrpcResult<String> {
        self.session.ensure_running("consumer")?;
        let t = &self.session.transport;
        let req = ChangeInvisibleDurationRequest {
            group: Some(t.resource(&self.group)),
            topic: Some(t.resource(r.topic)),
            receipt_handle: r.receipt_handle.to_string(),
            invisible_duration: Some(proto_duration(invisible)),
            message_id: r.message_id.to_string(),
            lite_topic: None,
            suspend: None,
        };
        let resp = t
            .stub(r.endpoint)?
            .change_invisible_duration(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())?;
        Ok(resp.receipt_handle)
    }

    /// Moves a message that failed `delivery_attempt` times to the group's dead-letter queue.
    pub async fn forward_to_dead_letter_queue(
        &self,
        r: ReceiptRef<'_>,
        delivery_attempt: i32,
        max_delivery_attempts: i32,
    ) -> GrpcResult<()> {
        self.session.ensure_running("consumer")?;
        let t = &self.session.transport;
        let req = ForwardMessageToDeadLetterQueueRequest {
            group: Some(t.resource(&self.group)),
            topic: Some(t.resource(r.topic)),
            receipt_handle: r.receipt_handle.to_string(),
            message_id: r.message_id.to_string(),
            delivery_attempt,
            max_delivery_attempts,
            lite_topic: None,
        };
        let resp = t
            .stub(r.endpoint)?
            .forward_message_to_dead_letter_queue(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())
    }
}
