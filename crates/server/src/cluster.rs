//! The composition root: [`EmbeddedCluster`] wires the store, the name server and the broker
//! together on their own tokio runtime thread; [`run_until_signal`] does the same for the
//! `rocketmq-broker` program.
//!
//! With `ServerConfig::namesrv_addr` set only a broker starts, registering with that name
//! server (several brokers, one name server); [`EmbeddedCluster::kill`] stops without
//! unregistering, as a crashed broker.
//!
//! Shutdown order (what must stay true): stop accepting and close connections (held pulls
//! are answered), unregister from the name server, stop the delay and transaction check-back
//! and timer services, then flush and shut down the store, then stop the runtime. Nothing acknowledged
//! is lost.

use crate::broker::notify::{NotifyingStore, QueueNotifier};
use crate::broker::schedule::{DelayLevels, ScheduleService, SCHEDULE_TOPIC};
use crate::broker::timer::{stored_deliver_ms, TimerService, TIMER_TOPIC};
use crate::config::ServerConfig;
use crate::net::{advertised, bind, resolve_name_server, store_host};
use crate::remoting::client::RemotingClient;
use crate::{broker, grpc, namesrv, remoting, util};
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{get_property, DELAY};
use rocketmq_store::{FileStore, MessageStore, StoreConfig};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// A running name server + broker pair on its own runtime thread.
pub struct EmbeddedCluster {
    namesrv_addr: SocketAddr,
    broker_addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    held_polls: Arc<AtomicUsize>,
    running: Mutex<Option<Running>>,
}

struct Running {
    shutdown: watch::Sender<bool>,
    /// Set before `shutdown` by [`EmbeddedCluster::kill`]: skip unregistering.
    abrupt: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// What a started server reports: the name server, broker and gRPC endpoint addresses.
struct Bound {
    namesrv: SocketAddr,
    broker: SocketAddr,
    grpc: Option<SocketAddr>,
    held_polls: Arc<AtomicUsize>,
}

type Ready = io::Result<Bound>;

impl EmbeddedCluster {
    /// Opens the store at `config.store_dir`, binds the name server and the broker (port 0 =
    /// ephemeral), registers the broker, and returns once both listen.
    pub fn start(config: ServerConfig) -> io::Result<EmbeddedCluster> {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let abrupt = Arc::new(AtomicBool::new(false));
        let abrupt_run = abrupt.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Ready>();
        let thread = std::thread::Builder::new()
            .name("rocketmq-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("rocketmq-server-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(run(config, ready_tx, shutdown_rx, abrupt_run));
                runtime.shutdown_timeout(Duration::from_secs(2));
            })?;
        match ready_rx.recv() {
            Ok(Ok(bound)) => Ok(EmbeddedCluster {
                namesrv_addr: bound.namesrv,
                broker_addr: bound.broker,
                grpc_addr: bound.grpc,
                held_polls: bound.held_polls,
                running: Mutex::new(Some(Running {
                    shutdown: shutdown_tx,
                    abrupt,
                    thread,
                })),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other("the server thread stopped during start"))
            }
        }
    }

    /// How many POP / NOTIFICATION requests the broker holds (long polling) right now; a
    /// held request whose caller went away stops counting once the broker has seen it go.
    pub fn held_polls(&self) -> usize {
        self.held_polls.load(Ordering::Acquire)
    }

    /// The name server's address: the one started here, or in broker-only mode the one
    /// the broker registers with.
    pub fn namesrv_addr(&self) -> SocketAddr {
        self.namesrv_addr
    }

    /// Starts only a broker (no name server) that registers with the name server at
    /// `namesrv` (`"host:port"`); the same as `start` with `config.namesrv_addr` set.
    pub fn start_broker(config: ServerConfig, namesrv: &str) -> io::Result<EmbeddedCluster> {
        EmbeddedCluster::start(ServerConfig {
            namesrv_addr: Some(namesrv.to_string()),
            ..config
        })
    }

    /// Stops like a crashed broker as far as the name server can tell: connections close and
    /// the broker does not unregister, so the name server keeps it until `broker_expiry`.
    /// (The store is still flushed, as the OS would keep a killed process's written pages.)
    pub fn kill(&self) {
        if let Some(running) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            running.abrupt.store(true, Ordering::SeqCst);
        }
        self.shutdown();
    }

    /// The address clients use for the broker (what the name server hands out and what
    /// stored messages carry as store host): the bound one unless `advertised_host` is set.
    pub fn broker_addr(&self) -> SocketAddr {
        self.broker_addr
    }

    /// The RocketMQ 5 gRPC endpoint (advertised host, bound port), when
    /// `ServerConfig::grpc_port` asked for one.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Stops accepting, stops services, flushes and shuts down the store, joins the runtime
    /// thread. Idempotent.
    pub fn shutdown(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(running) = running {
            running.shutdown.send_replace(true);
            if running.thread.join().is_err() {
                tracing::error!("the server thread panicked");
            }
        }
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Tags code of a record re-dispatched by store recovery: schedule-topic and timer-topic
/// entries hold the delivery time, every other entry the tag hash.
fn recovery_tags_code(levels: DelayLevels) -> rocketmq_store::TagsCodeFn {
    Arc::new(move |msg: &StoredMessage| {
        if msg.topic == SCHEDULE_TOPIC {
            let level = get_property(&msg.properties, DELAY)
                .and_then(|l| l.trim().parse::<i32>().ok())
                .unwrap_or(msg.queue_id + 1);
            let delay = levels.delay_of(levels.clamp(level)).as_millis() as i64;
            msg.store_timestamp.saturating_add(delay)
        } else if msg.topic == TIMER_TOPIC {
            stored_deliver_ms(&msg.properties).unwrap_or(msg.store_timestamp)
        } else {
            rocketmq_store::default_tags_code_of(msg)
        }
    })
}

/// Binds, opens the store, starts the name server (unless broker-only), the broker and their
/// services, and reports the addresses (or why it could not start) through `ready`; then
/// runs until `shutdown` and stops in the order the module header gives.
async fn run(
    config: ServerConfig,
    ready: std::sync::mpsc::Sender<Ready>,
    mut shutdown: watch::Receiver<bool>,
    abrupt: Arc<AtomicBool>,
) {
    let fail = |e: io::Error| {
        let _ = ready.send(Err(e));
    };
    let levels = match DelayLevels::parse(&config.delay_levels) {
        Ok(l) => l,
        Err(e) => {
            return fail(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad delay levels {:?}: {e}", config.delay_levels),
            ))
        }
    };
    // Broker-only mode registers with an existing name server instead of starting one.
    let (namesrv_listener, namesrv_addr) = match &config.namesrv_addr {
        None => {
            let listener = match bind(&config.host, config.namesrv_port, "name server").await {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            match listener.local_addr() {
                Ok(a) => (Some(listener), a),
                Err(e) => return fail(e),
            }
        }
        Some(addr) => match resolve_name_server(addr).await {
            Ok(a) => (None, a),
            Err(e) => return fail(e),
        },
    };
    let broker_listener = match bind(&config.host, config.broker_port, "broker").await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let broker_bound = match broker_listener.local_addr() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let grpc_listener = match config.grpc_port {
        Some(port) => match bind(&config.host, port, "gRPC endpoint").await {
            Ok(l) => Some(l),
            Err(e) => return fail(e),
        },
        None => None,
    };

    let mut store_config = StoreConfig::new(&config.store_dir);
    store_config.commit_log_segment_size = config.commit_log_segment_size;
    store_config.flush = config.flush;
    store_config.max_message_size = config.max_message_size;
    store_config.file_reserved_time = config.file_reserved_time;
    store_config.disk_max_used_ratio = config.disk_max_used_ratio;
    store_config.disk_refuse_ratio = config.disk_refuse_ratio;
    store_config.tags_code_for_recovery = Some(recovery_tags_code(levels.clone()));
    if !config.message_index {
        store_config.index = None;
    }
    let file_store = match tokio::task::block_in_place(|| FileStore::open(store_config)) {
        Ok(s) => s,
        Err(e) => {
            return fail(io::Error::other(format!(
                "cannot open the store at {}: {e}",
                config.store_dir.display()
            )))
        }
    };
    let store_host = match store_host(config.advertised_host.as_deref(), broker_bound).await {
        Ok(a) => a,
        Err(e) => {
            file_store.shutdown();
            return fail(e);
        }
    };
    let notifier = Arc::new(QueueNotifier::default());
    let store: Arc<dyn MessageStore> =
        Arc::new(NotifyingStore::new(file_store.clone(), notifier.clone()));

    let name_server = namesrv::NameServer::new(config.broker_expiry);
    let broker = match broker::Broker::new(
        config.clone(),
        store_host,
        store.clone(),
        notifier.clone(),
        shutdown.clone(),
    ) {
        Ok(b) => b,
        Err(e) => {
            file_store.shutdown();
            return fail(io::Error::other(format!("cannot start the broker: {e}")));
        }
    };
    if let Err(e) = tokio::task::block_in_place(|| {
        broker.pop.open_journal(
            &config.store_dir.join("pop"),
            config.flush == rocketmq_store::FlushMode::Sync,
        )
    }) {
        file_store.shutdown();
        return fail(io::Error::other(format!(
            "cannot open the POP journal under {}: {e}",
            config.store_dir.display()
        )));
    }

    // Java clients up to 4.4 send most requests to "VIP channel" port - 2 by default. Only
    // with a fixed port: with an ephemeral one, port - 2 may belong to another process.
    let vip_listener = if config.broker_port > 2 {
        match bind(&config.host, config.broker_port - 2, "broker VIP channel").await {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("{e}; Java clients older than 4.5 need vipChannelEnabled=false");
                None
            }
        }
    } else {
        None
    };
    let mut tasks = vec![
        tokio::spawn(remoting::serve(
            broker_listener,
            broker.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(broker.clone().run_client_expiry()),
        tokio::spawn(broker.clone().run_pop_revive()),
    ];
    if let Some(listener) = namesrv_listener {
        tasks.push(tokio::spawn(remoting::serve(
            listener,
            name_server.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(
            name_server.clone().run_expiry(shutdown.clone()),
        ));
    }
    let mut grpc_addr = None;
    if let Some(listener) = grpc_listener {
        let port = match listener.local_addr() {
            Ok(a) => a.port(),
            Err(e) => {
                file_store.shutdown();
                return fail(e);
            }
        };
        let endpoint = SocketAddr::new(store_host.ip(), port);
        grpc_addr = Some(endpoint);
        let front = grpc::GrpcFront::new(broker.clone(), endpoint);
        tasks.push(tokio::spawn(grpc::serve(listener, front, shutdown.clone())));
    }
    if let Some(vip) = vip_listener {
        tasks.push(tokio::spawn(remoting::serve(
            vip,
            broker.clone(),
            shutdown.clone(),
        )));
    }

    // The broker registers with its own name server over loopback (the bound address), or
    // with the configured one in broker-only mode.
    let namesrv_connect = advertised(namesrv_addr);
    let registrar = Arc::new(RemotingClient::new(namesrv_connect));
    if let Err(e) = broker.register_once(&registrar).await {
        file_store.shutdown();
        return fail(io::Error::other(format!(
            "the broker could not register with the name server: {e}"
        )));
    }
    let registration = tokio::spawn(broker.clone().run_registration(registrar));

    let stop_schedule = Arc::new(AtomicBool::new(false));
    let wake = notifier.clone();
    let schedule = Arc::new(ScheduleService::new(
        store.clone(),
        levels,
        Arc::new(move |topic: &str, queue_id: i32| wake.notify(topic, queue_id)),
    ));
    let schedule_thread = schedule.spawn(stop_schedule.clone());
    let transaction_thread = broker
        .clone()
        .spawn_transaction_check(stop_schedule.clone());
    let timer = match tokio::task::block_in_place(|| {
        TimerService::open(
            store.clone(),
            &config.store_dir.join("timer"),
            config.timer_max_delay.as_millis() as i64,
            rocketmq_protocol::now_millis(),
        )
    }) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            stop_schedule.store(true, Ordering::Release);
            file_store.shutdown();
            return fail(io::Error::other(format!(
                "cannot open the timer store under {}: {e}",
                config.store_dir.display()
            )));
        }
    };
    let _ = broker.timer.set(timer.clone());
    // Retention keeps every record an undelivered timer message still needs.
    let weak_timer = Arc::downgrade(&timer);
    store.retain_commit_log_from(Arc::new(move || {
        weak_timer
            .upgrade()
            .and_then(|t| t.lowest_needed_commit_log_offset())
    }));
    // ... and every record a message in flight for a POP group still needs.
    let weak_broker = Arc::downgrade(&broker);
    store.retain_commit_log_from(Arc::new(move || {
        weak_broker
            .upgrade()
            .and_then(|b| b.pop_lowest_needed_commit_log_offset())
    }));
    let timer_thread = match timer.spawn(notifier.clone(), stop_schedule.clone()) {
        Ok(t) => t,
        Err(e) => {
            stop_schedule.store(true, Ordering::Release);
            file_store.shutdown();
            return fail(e);
        }
    };

    tracing::info!(%namesrv_addr, broker = %broker.store_host, "name server and broker started");
    let _ = ready.send(Ok(Bound {
        namesrv: namesrv_addr,
        broker: store_host,
        grpc: grpc_addr,
        held_polls: broker.pop.held_polls(),
    }));

    util::until_true(&mut shutdown).await;
    tracing::info!("shutting down");
    if abrupt.load(Ordering::SeqCst) {
        // A killed broker does not say goodbye: the name server must expire it.
        registration.abort();
    } else {
        let _ = tokio::time::timeout(Duration::from_secs(2), registration).await;
    }
    stop_schedule.store(true, Ordering::Release);
    let _ = tokio::task::spawn_blocking(move || schedule_thread.join()).await;
    let _ = tokio::task::spawn_blocking(move || transaction_thread.join()).await;
    let _ = tokio::task::spawn_blocking(move || timer_thread.join()).await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
    }
    tokio::task::block_in_place(|| {
        if let Err(e) = file_store.flush() {
            tracing::error!("flushing the store at shutdown failed: {e}");
        }
        file_store.shutdown();
    });
    tracing::info!("stopped");
}

/// Runs a name server and a broker until SIGINT or SIGTERM, printing
/// `name server listening on HOST:PORT` and `broker listening on HOST:PORT` first.
pub fn run_until_signal(config: ServerConfig) -> io::Result<()> {
    let cluster = EmbeddedCluster::start(config)?;
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The handlers are installed before the addresses are printed: whoever reads them may
    // signal at once, and a signal before the handlers would kill the process uncleanly.
    #[cfg(unix)]
    let (mut term, mut interrupt) = signals.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        io::Result::Ok((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    // A reader that stopped reading (a closed pipe) must not bring the broker down.
    let print = |line: String| {
        use std::io::Write;
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    print(format!(
        "name server listening on {}",
        cluster.namesrv_addr()
    ));
    print(format!("broker listening on {}", cluster.broker_addr()));
    if let Some(grpc) = cluster.grpc_addr() {
        print(format!("gRPC endpoint listening on {grpc}"));
    }
    signals.block_on(async {
        #[cfg(unix)]
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        io::Result::Ok(())
    })?;
    eprintln!("signal received, shutting down");
    cluster.shutdown();
    Ok(())
}
