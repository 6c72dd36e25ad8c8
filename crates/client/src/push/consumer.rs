//! [`PushConsumer`]: the handle the caller holds. Starting one builds the
//! [`ConsumerCore`], the dispatcher threads and the background loops (rebalance, heartbeat,
//! offset persistence, orderly lock renewal); the handle reads the owned queues and stops it
//! all.
//!
//! What must stay true: shutdown stops pulls first, lets running listener calls finish (up
//! to the grace period), then commits offsets, unlocks and unregisters; it never joins the
//! thread it runs on (a listener may call shutdown), and called inside the runtime it does
//! not `block_on` (that part finishes in the background).

use super::broker_requests::ConsumerRequestHandler;
use super::config::{PushConsumerConfig, Subscription};
use super::consumer_core::{wait_on, ConsumerCore};
use super::dispatch::{on_dispatcher, start_dispatchers, ListenerQueue};
use super::listener::MessageListener;
use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use crate::config::ClientConfig;
use crate::error::Result;
use crate::filter::MessageFilter;
use crate::instance::ClientInstance;
use crate::route::MessageQueue;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{watch, Notify};

pub struct PushConsumer {
    pub(super) core: Arc<ConsumerCore>,
    dispatchers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    stopped: AtomicBool,
}

impl PushConsumer {
    /// Starts consuming on `runtime`. `client_config` names the name servers. Clustering
    /// consumers also subscribe to their group's retry topic. A subscription a broker of
    /// its topic refuses (an invalid SQL92 expression) is `ClientError::ExpressionRefused`.
    pub fn start(
        runtime: tokio::runtime::Handle,
        client_config: ClientConfig,
        config: PushConsumerConfig,
        mut subscriptions: Vec<Subscription>,
        listener: Arc<dyn MessageListener>,
    ) -> Result<PushConsumer> {
        let rebalance_now = Arc::new(Notify::new());
        let handler = Arc::new(ConsumerRequestHandler {
            rebalance_now: rebalance_now.clone(),
            core: OnceLock::new(),
        });
        let client = ClientInstance::new(client_config, Some(handler.clone()));
        client.start_maintenance(&runtime);
        if !config.broadcasting {
            subscriptions.push(Subscription {
                topic: format!("%RETRY%{}", config.group),
                filter: MessageFilter::parse("*"),
            });
        }
        let local_file = config.broadcasting.then(|| {
            config
                .local_offset_dir
                .join(&client.config.instance_name)
                .join(&config.group)
                .join("offsets.json")
        });
        let (listener_queue, rx) = ListenerQueue::new();
        let (stop, _) = watch::channel(false);
        let core = Arc::new(ConsumerCore {
            client,
            subscriptions: Mutex::new(subscriptions),
            queues: Mutex::new(HashMap::new()),
            offsets: OffsetStore::new(local_file),
            stop,
            rebalance_now,
            listener_queue,
            runtime: runtime.clone(),
            background: Mutex::new(Vec::new()),
            heartbeat_acked: Mutex::new(BTreeSet::new()),
            config,
        });
        let _ = handler.core.set(Arc::downgrade(&core));
        // SQL92 subscriptions are checked with their brokers before anything runs (Java's
        // checkClientInBroker): a refused expression fails the start.
        if core.subscriptions().iter().any(|s| !s.filter.is_tag()) {
            let checking = core.clone();
            if let Err(e) = wait_on(
                &runtime,
                async move { checking.check_subscriptions().await },
            ) {
                core.client.shutdown();
                return Err(e);
            }
        }

        let dispatchers = start_dispatchers(
            core.config.thread_count,
            rx,
            listener,
            core.stop.subscribe(),
        )?;

        let mut background = vec![
            runtime.spawn(ConsumerCore::rebalance_loop(core.clone())),
            runtime.spawn(ConsumerCore::heartbeat_loop(core.clone())),
            runtime.spawn(ConsumerCore::persist_loop(core.clone())),
        ];
        if core.config.orderly {
            background.push(runtime.spawn(ConsumerCore::lock_renew_loop(core.clone())));
        }
        core.background.lock().unwrap().extend(background);
        Ok(PushConsumer {
            core,
            dispatchers: Mutex::new(dispatchers),
            stopped: AtomicBool::new(false),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.core.client.client_id
    }

    /// Pulled but unacknowledged messages and their body bytes, per owned queue.
    pub fn cached_per_queue(&self) -> Vec<(MessageQueue, usize, usize)> {
        let mut v: Vec<_> = self
            .core
            .queue_list()
            .iter()
            .map(|pq| {
                let (count, bytes) = pq.cached();
                (pq.mq.clone(), count, bytes)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Queues this consumer owns now.
    pub fn owned_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<_> = self.core.queues.lock().unwrap().keys().cloned().collect();
        v.sort();
        v
    }

    /// Owned queues whose starting offset is known (pulling has begun). Messages stored in
    /// these queues from now on are delivered, whatever `consume_from` says.
    pub fn pulling_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<_> = self
            .core
            .queues
            .lock()
            .unwrap()
            .values()
            .filter(|pq| pq.is_started())
            .map(|pq| pq.mq.clone())
            .collect();
        v.sort();
        v
    }

    /// Stops pulling, waits up to `grace` for running listener calls, commits offsets,
    /// unlocks and unregisters. Blocks the calling thread; idempotent.
    pub fn shutdown(&self, grace: Duration) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let core = self.core.clone();
        let _ = core.stop.send(true);
        for h in core.background.lock().unwrap().drain(..) {
            h.abort();
        }
        let rt = core.runtime.clone();
        let on_dispatcher = on_dispatcher();
        let fut = async move {
            if !on_dispatcher {
                let _ = tokio::time::timeout(grace, core.listener_queue.drained()).await;
            }
            let queues: Vec<Arc<ProcessQueue>> = {
                let mut q = core.queues.lock().unwrap();
                q.drain().map(|(_, pq)| pq).collect()
            };
            for pq in &queues {
                pq.dropped.store(true, Ordering::Release);
            }
            core.persist_offsets(&queues).await;
            if core.config.orderly {
                core.unlock_all(&queues).await;
            }
            for addr in core.broker_addrs() {
                let _ = core
                    .client
                    .unregister(&addr, None, Some(&core.config.group))
                    .await;
            }
            core.client.shutdown();
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called from inside the runtime: finish in the background.
            rt.spawn(fut);
        } else {
            rt.block_on(fut);
        }
        self.core.listener_queue.close();
        if !on_dispatcher {
            for h in self.dispatchers.lock().unwrap().drain(..) {
                let _ = h.join();
            }
        }
    }
}

impl Drop for PushConsumer {
    fn drop(&mut self) {
        if !self.stopped.load(Ordering::SeqCst) {
            let _ = self.core.stop.send(true);
            for h in self.core.background.lock().unwrap().drain(..) {
                h.abort();
            }
            self.core.listener_queue.close();
            self.core.client.shutdown();
        }
    }
}
