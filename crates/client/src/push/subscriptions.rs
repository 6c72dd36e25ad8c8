//! Subscriptions of a push consumer beyond the tag filters it started with: a subscription
//! that is not a tag expression (SQL92) is checked with the brokers of its topic before it
//! is used, at start and at `subscribe` on the running consumer, as Java's
//! `checkClientInBroker` does; `subscribe` adds or replaces one while the consumer runs.
//!
//! What must stay true: a refusal by a broker (its parse error, or "does not filter by
//! properties") fails the start or the `subscribe` and changes nothing; a broker that cannot
//! be reached does not (the route or the broker may come later, as for tag subscriptions);
//! a tag subscription is never checked (Java's client does not either).

use super::config::Subscription;
use super::consumer::PushConsumer;
use super::consumer_core::{wait_on, ConsumerCore, LOG};
use crate::error::{ClientError, Result};

impl ConsumerCore {
    /// CHECK_CLIENT_CONFIG of `sub` on every master of its topic (Java asks one of them; a
    /// refusal by any is an error here, so that the answer does not depend on which one is
    /// asked). A tag subscription, and a topic without a route yet, are not checked.
    pub(super) async fn check_subscription(&self, sub: &Subscription) -> Result<()> {
        if sub.filter.is_tag() {
            return Ok(());
        }
        let route = match self.client.fetch_route(&sub.topic).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(target: LOG, topic = %sub.topic, error = %e, "no route; subscription not checked");
                return Ok(());
            }
        };
        let data = sub
            .filter
            .subscription_data(&sub.topic, rocketmq_protocol::now_millis());
        for addr in route.masters.values() {
            match self
                .client
                .check_client_config(addr, &self.config.group, &data)
                .await
            {
                Ok(()) => {}
                Err(e @ ClientError::ExpressionRefused(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(target: LOG, broker = %addr, topic = %sub.topic, error = %e, "subscription not checked");
                }
            }
        }
        Ok(())
    }

    /// Checks every subscription (at start).
    pub(super) async fn check_subscriptions(&self) -> Result<()> {
        for sub in self.subscriptions() {
            self.check_subscription(&sub).await?;
        }
        Ok(())
    }
}

impl PushConsumer {
    /// Subscribes the running consumer to `sub.topic` with `sub.filter`, replacing the
    /// topic's subscription if it has one: checks it with the topic's brokers first (an
    /// SQL92 expression a broker refuses is an error and changes nothing), then heartbeats
    /// the new subscription and rebalances. Blocks the calling thread for the check.
    pub fn subscribe(&self, sub: Subscription) -> Result<()> {
        if !sub.filter.is_tag() {
            let core = self.core.clone();
            let checked = sub.clone();
            wait_on(&self.core.runtime, async move {
                core.check_subscription(&checked).await
            })?;
        }
        {
            let mut subs = self.core.subscriptions.lock().unwrap();
            match subs.iter_mut().find(|s| s.topic == sub.topic) {
                Some(s) => s.filter = sub.filter,
                None => subs.push(sub),
            }
        }
        let core = self.core.clone();
        self.core.runtime.spawn(async move {
            core.refresh_routes_and_heartbeat(true).await;
            core.rebalance_now.notify_one();
        });
        Ok(())
    }
}
