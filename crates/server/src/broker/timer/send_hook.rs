//! The timer's hook in the send path and in a transaction's commit: a message asking for a
//! future time is rewritten into the timer topic, one beyond `timer_max_delay` is refused
//! (MESSAGE_ILLEGAL, naming the limit, as Apache), one for a past time is stored as it is.

use super::rules::{timer_deliver_ms, to_timer, too_far_remark, TimerRequest, TIMER_TOPIC};
use crate::broker::error::OpError;
use crate::broker::services::Broker;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_store::MessageToStore;

impl Broker {
    /// `Some(stored form)` when `msg` is a timer message due after `now_ms`; `None` when it
    /// is delivered as it is (no timer, or a time already past).
    pub(crate) fn timer_rewrite(
        &self,
        msg: &MessageToStore,
        now_ms: i64,
    ) -> Result<Option<MessageToStore>, OpError> {
        if msg.topic == TIMER_TOPIC {
            return Ok(None);
        }
        match timer_deliver_ms(&msg.properties, now_ms) {
            TimerRequest::None => Ok(None),
            TimerRequest::Malformed { property, value } => Err(OpError::new(
                resp::MESSAGE_ILLEGAL,
                format!(
                    "timer message illegal: {property}={value:?} is not a whole number of {}",
                    if property.ends_with("SEC") {
                        "seconds"
                    } else {
                        "milliseconds"
                    }
                ),
            )),
            TimerRequest::At(at) if at <= now_ms => Ok(None),
            TimerRequest::At(at) => {
                let max = self.config.timer_max_delay.as_millis() as i64;
                if at - now_ms > max {
                    return Err(OpError::new(
                        resp::MESSAGE_ILLEGAL,
                        too_far_remark(max, at - now_ms),
                    ));
                }
                Ok(Some(to_timer(msg.clone(), at)))
            }
        }
    }
}
