//! The settings a 5.x server pushes to its clients over telemetry (retry policy, body size,
//! message-type checks, FIFO, batch size, polling time), with the official clients' defaults
//! until it does, and the conversions between protobuf and std durations.
//!
//! What must stay true: a field the server leaves out keeps its current value; backoff delays
//! never exceed the policy's maximum.

use rocketmq_grpc::v2::{retry_policy, settings::PubSub, Settings};
use std::time::Duration;

/// The settings the server pushed (defaults until it does).
#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub max_attempts: i32,
    /// Delays between attempts: exponential (initial, max, multiplier) or a fixed list.
    pub backoff: Backoff,
    pub validate_message_type: bool,
    pub max_body_size: usize,
    pub fifo: bool,
    pub receive_batch_size: i32,
    pub long_polling_timeout: Duration,
}

#[derive(Clone, Debug)]
pub enum Backoff {
    Exponential {
        initial: Duration,
        max: Duration,
        multiplier: f32,
    },
    Customized(Vec<Duration>),
}

impl Backoff {
    /// The pause before attempt `attempt + 1` (attempts count from 1).
    pub fn delay(&self, attempt: i32) -> Duration {
        let n = attempt.max(1) - 1;
        match self {
            Backoff::Exponential {
                initial,
                max,
                multiplier,
            } => {
                let factor = f64::from(multiplier.max(1.0)).powi(n.min(30));
                initial.mul_f64(factor).min(*max)
            }
            Backoff::Customized(steps) => steps
                .get(n as usize)
                .or(steps.last())
                .copied()
                .unwrap_or(Duration::from_secs(1)),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_attempts: 3,
            backoff: Backoff::Exponential {
                initial: Duration::from_millis(10),
                max: Duration::from_secs(1),
                multiplier: 2.0,
            },
            validate_message_type: true,
            max_body_size: 4 * 1024 * 1024,
            fifo: false,
            receive_batch_size: 32,
            long_polling_timeout: Duration::from_secs(30),
        }
    }
}

fn duration_of(d: Option<&prost_types::Duration>) -> Option<Duration> {
    let d = d?;
    if d.seconds < 0 || d.nanos < 0 {
        return None;
    }
    Some(Duration::new(d.seconds as u64, d.nanos as u32))
}

pub fn proto_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

impl ServerSettings {
    /// Takes what the server sent in `s` (fields it left out keep their values).
    pub fn apply(&mut self, s: Settings) {
        let cur = self;
        if let Some(policy) = s.backoff_policy {
            if policy.max_attempts > 0 {
                cur.max_attempts = policy.max_attempts;
            }
            match policy.strategy {
                Some(retry_policy::Strategy::ExponentialBackoff(e)) => {
                    cur.backoff = Backoff::Exponential {
                        initial: duration_of(e.initial.as_ref())
                            .unwrap_or(Duration::from_millis(10)),
                        max: duration_of(e.max.as_ref()).unwrap_or(Duration::from_secs(1)),
                        multiplier: e.multiplier,
                    }
                }
                Some(retry_policy::Strategy::CustomizedBackoff(c)) => {
                    cur.backoff = Backoff::Customized(
                        c.next.iter().filter_map(|d| duration_of(Some(d))).collect(),
                    )
                }
                None => {}
            }
        }
        match s.pub_sub {
            Some(PubSub::Publishing(p)) => {
                cur.validate_message_type = p.validate_message_type;
                if p.max_body_size > 0 {
                    cur.max_body_size = p.max_body_size as usize;
                }
            }
            Some(PubSub::Subscription(sub)) => {
                if let Some(fifo) = sub.fifo {
                    cur.fifo = fifo;
                }
                if let Some(n) = sub.receive_batch_size.filter(|n| *n > 0) {
                    cur.receive_batch_size = n;
                }
                if let Some(d) = duration_of(sub.long_polling_timeout.as_ref()) {
                    cur.long_polling_timeout = d;
                }
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_grpc::v2::{ExponentialBackoff, Publishing, RetryPolicy};

    #[test]
    fn server_settings_replace_the_defaults_and_delays_stay_bounded() {
        let mut s = ServerSettings::default();
        s.apply(Settings {
            backoff_policy: Some(RetryPolicy {
                max_attempts: 5,
                strategy: Some(retry_policy::Strategy::ExponentialBackoff(
                    ExponentialBackoff {
                        initial: Some(proto_duration(Duration::from_millis(100))),
                        max: Some(proto_duration(Duration::from_secs(1))),
                        multiplier: 2.0,
                    },
                )),
            }),
            pub_sub: Some(PubSub::Publishing(Publishing {
                topics: vec![],
                max_body_size: 1024,
                validate_message_type: false,
            })),
            ..Default::default()
        });
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.max_body_size, 1024);
        assert!(!s.validate_message_type);
        assert_eq!(s.backoff.delay(1), Duration::from_millis(100));
        assert_eq!(s.backoff.delay(3), Duration::from_millis(400));
        assert_eq!(s.backoff.delay(30), Duration::from_secs(1));
    }
}
