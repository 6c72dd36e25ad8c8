//! Telemetry: the bidirectional stream of one client; the settings exchange, and the commands
//! the server sends (the transaction check-back, see `clients`).
//!
//! Settings: the client's `Settings` are kept (by client id), the client is registered as its
//! type says (`GrpcFront::register`), and the answer is the client's settings with the
//! server's values, as the Apache proxy's `GrpcClientSettingsManager` merges them:
//! - a producer: backoff of 3 attempts, exponential from 10 ms to 1 s (multiplier 2); the
//!   publishing max body size (the broker's `max_message_size`) and message type validation;
//! - a consumer: receive batch size 32, long-polling timeout 20 s, FIFO from the group's
//!   `consumeMessageOrderly`, and the group's retry policy as the backoff (attempts = retry
//!   max times + 1; exponential or customized);
//! - metrics off.
//!
//! `ThreadStackTrace` and `VerifyMessageResult` from the client (answers to commands an
//! administrator sent) are accepted and logged; this broker sends neither command on its own.
//!
//! What must stay true: one live stream per client id (a newer one replaces the older); when
//! the client's stream ends, it leaves the broker's client table.

use super::clients::TELEMETRY_QUEUE;
use super::heartbeat::client_id_required;
use super::metadata::{peer, ClientMeta};
use super::status::ok;
use super::{AnswerStream, GrpcFront};
use rocketmq_grpc::v2;
use rocketmq_protocol::body::SubscriptionGroupConfig;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Send attempts of a gRPC producer (proxy `grpcClientProducerMaxAttempts`).
pub(crate) const PRODUCER_MAX_ATTEMPTS: i32 = 3;
/// First and longest backoff of a gRPC producer, and its multiplier.
pub(crate) const PRODUCER_BACKOFF_INITIAL: Duration = Duration::from_millis(10);
pub(crate) const PRODUCER_BACKOFF_MAX: Duration = Duration::from_secs(1);
pub(crate) const PRODUCER_BACKOFF_MULTIPLIER: f32 = 2.0;
/// Messages a consumer asks for per receive (proxy `grpcClientConsumerLongPollingBatchSize`).
pub(crate) const CONSUMER_RECEIVE_BATCH_SIZE: i32 = 32;
/// Longest long poll of a consumer (proxy `grpcClientConsumerMaxLongPollingTimeoutMillis`).
pub(crate) const CONSUMER_LONG_POLLING_TIMEOUT: Duration = Duration::from_secs(20);
/// A group's customized retry delays when its config names none (Java
/// `CustomizedRetryPolicy`), in seconds.
const DEFAULT_RETRY_DELAYS_S: [u64; 18] = [
    1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600, 1200, 1800, 3600, 7200,
];

pub(super) async fn telemetry(
    front: &GrpcFront,
    request: Request<Streaming<v2::TelemetryCommand>>,
) -> Result<Response<AnswerStream<v2::TelemetryCommand>>, Status> {
    let meta = ClientMeta::from_metadata(request.metadata());
    let from = peer(&request);
    if meta.client_id.is_empty() {
        return Err(Status::invalid_argument(client_id_required().message));
    }
    let mut inbound = request.into_inner();
    let (tx, rx) = mpsc::channel(TELEMETRY_QUEUE);
    let stream = front
        .clients
        .telemetry_started(&meta.client_id, from, tx.clone());
    let front = front.clone();
    let mut shutdown = front.broker.shutdown.clone();
    tokio::spawn(async move {
        loop {
            let command = tokio::select! {
                c = inbound.message() => c,
                _ = crate::util::until_true(&mut shutdown) => break,
            };
            let command = match command {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(client_id = meta.client_id, "telemetry stream failed: {e}");
                    break;
                }
            };
            if let Some(answer) = front.telemetry_command(&meta, from, command) {
                if tx.send(Ok(answer)).await.is_err() {
                    break;
                }
            }
        }
        front.clients.telemetry_ended(&meta.client_id, stream);
    });
    Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
}

impl GrpcFront {
    /// Handles one command of a client's Telemetry stream; returns the answer, if any.
    fn telemetry_command(
        &self,
        meta: &ClientMeta,
        from: std::net::SocketAddr,
        command: v2::TelemetryCommand,
    ) -> Option<v2::TelemetryCommand> {
        use v2::telemetry_command::Command;
        match command.command? {
            Command::Settings(settings) => {
                self.clients.set_settings(&meta.client_id, settings.clone());
                let client_type = settings
                    .client_type
                    .and_then(|t| v2::ClientType::try_from(t).ok())
                    .unwrap_or(v2::ClientType::Unspecified);
                let status = match self.register(meta, from, client_type, None, Some(&settings)) {
                    Ok(()) => ok(),
                    Err(refused) => refused,
                };
                Some(v2::TelemetryCommand {
                    status: Some(status),
                    command: Some(Command::Settings(self.server_settings(settings))),
                })
            }
            Command::ThreadStackTrace(t) => {
                tracing::info!(
                    client_id = meta.client_id,
                    nonce = t.nonce,
                    "thread stack trace of a client:\n{}",
                    t.thread_stack_trace.unwrap_or_default()
                );
                None
            }
            Command::VerifyMessageResult(r) => {
                tracing::info!(
                    client_id = meta.client_id,
                    nonce = r.nonce,
                    status = ?command.status,
                    "message verification result of a client"
                );
                None
            }
            other => {
                tracing::debug!(
                    client_id = meta.client_id,
                    "telemetry command not expected from a client; ignored: {other:?}"
                );
                None
            }
        }
    }

    /// The client's settings with the server's values (see the module doc).
    pub(crate) fn server_settings(&self, mut settings: v2::Settings) -> v2::Settings {
        use v2::settings::PubSub;
        match settings.pub_sub.as_mut() {
            Some(PubSub::Publishing(publishing)) => {
                publishing.max_body_size =
                    i32::try_from(self.broker.config.max_message_size).unwrap_or(i32::MAX);
                publishing.validate_message_type = true;
                settings.backoff_policy = Some(v2::RetryPolicy {
                    max_attempts: PRODUCER_MAX_ATTEMPTS,
                    strategy: Some(v2::retry_policy::Strategy::ExponentialBackoff(
                        v2::ExponentialBackoff {
                            initial: Some(duration(PRODUCER_BACKOFF_INITIAL)),
                            max: Some(duration(PRODUCER_BACKOFF_MAX)),
                            multiplier: PRODUCER_BACKOFF_MULTIPLIER,
                        },
                    )),
                });
            }
            Some(PubSub::Subscription(subscription)) => {
                let group = super::message_out::wrap_namespace(subscription.group.as_ref());
                let config = self.broker.subscription_group(&group);
                subscription.receive_batch_size = Some(CONSUMER_RECEIVE_BATCH_SIZE);
                subscription.long_polling_timeout = Some(duration(CONSUMER_LONG_POLLING_TIMEOUT));
                subscription.fifo = Some(config.consume_message_orderly);
                settings.backoff_policy = Some(group_backoff(&config));
            }
            None => {}
        }
        settings.metric = Some(v2::Metric {
            on: false,
            endpoints: None,
        });
        settings
    }
}

fn duration(d: Duration) -> rocketmq_grpc::Duration {
    rocketmq_grpc::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn millis_field(v: &serde_json::Value, key: &str) -> Option<u64> {
    v.get(key).and_then(serde_json::Value::as_u64)
}

/// A consumer group's retry policy as the backoff its consumers use (proxy
/// `mergeSubscriptionData`): `EXPONENTIAL` (defaults 1 s, 2 h, x2) or customized delays.
fn group_backoff(config: &SubscriptionGroupConfig) -> v2::RetryPolicy {
    let policy = &config.group_retry_policy;
    let kind = policy
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("CUSTOMIZED");
    let strategy = if kind.eq_ignore_ascii_case("EXPONENTIAL") {
        let e = policy
            .get("exponentialRetryPolicy")
            .cloned()
            .unwrap_or_default();
        v2::retry_policy::Strategy::ExponentialBackoff(v2::ExponentialBackoff {
            initial: Some(duration(Duration::from_millis(
                millis_field(&e, "initial").unwrap_or(1000),
            ))),
            max: Some(duration(Duration::from_millis(
                millis_field(&e, "max").unwrap_or(7_200_000),
            ))),
            multiplier: e
                .get("multiplier")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(2.0) as f32,
        })
    } else {
        let next: Vec<rocketmq_grpc::Duration> = policy
            .get("customizedRetryPolicy")
            .and_then(|c| c.get("next"))
            .and_then(|n| n.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(serde_json::Value::as_u64)
                    .map(|ms| duration(Duration::from_millis(ms)))
                    .collect()
            })
            .filter(|v: &Vec<_>| !v.is_empty())
            .unwrap_or_else(|| {
                DEFAULT_RETRY_DELAYS_S
                    .iter()
                    .map(|s| duration(Duration::from_secs(*s)))
                    .collect()
            });
        v2::retry_policy::Strategy::CustomizedBackoff(v2::CustomizedBackoff { next })
    };
    v2::RetryPolicy {
        max_attempts: config.retry_max_times.saturating_add(1),
        strategy: Some(strategy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_retry_policy_becomes_the_consumer_backoff() {
        let mut config = SubscriptionGroupConfig::new("g");
        config.retry_max_times = 5;
        config.group_retry_policy = serde_json::json!({
            "type": "EXPONENTIAL",
            "exponentialRetryPolicy": {"initial": 2000, "max": 60000, "multiplier": 3}
        });
        let p = group_backoff(&config);
        assert_eq!(p.max_attempts, 6);
        match p.strategy {
            Some(v2::retry_policy::Strategy::ExponentialBackoff(e)) => {
                assert_eq!(e.initial.unwrap().seconds, 2);
                assert_eq!(e.max.unwrap().seconds, 60);
                assert_eq!(e.multiplier, 3.0);
            }
            other => panic!("not exponential: {other:?}"),
        }
        config.group_retry_policy = serde_json::Value::Null;
        match group_backoff(&config).strategy {
            Some(v2::retry_policy::Strategy::CustomizedBackoff(c)) => {
                assert_eq!(c.next.len(), 18);
                assert_eq!(c.next[1].seconds, 5);
            }
            other => panic!("not customized: {other:?}"),
        }
    }
}
