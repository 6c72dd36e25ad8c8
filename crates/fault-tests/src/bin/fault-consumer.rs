//! `fault-consumer`: a clustering push consumer in a process of its own, so that a fault test
//! can kill it with SIGKILL in the middle of consuming.
//!
//! Usage: `fault-consumer --namesrv HOST:PORT --group G --topic T`.
//!
//! For every message it prints `MSG <UNIQ_KEY> <queue id> <queue offset>` and flushes stdout
//! *before* the listener returns success: whatever the consumer acknowledged was printed, so
//! the parent sees every delivery (a killed consumer may have printed a message it never
//! acknowledged; that is the uncommitted window). It also prints `PULLING <n>` whenever the
//! number of queues it pulls changes. It runs until stdin reaches end of file, then shuts
//! down cleanly (committing its offsets).

use rocketmq_client::{
    ClientConfig, ConsumeBatch, ConsumeFrom, ConsumeStatus, MessageListener, PushConsumer,
    PushConsumerConfig, Subscription, TagFilter,
};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

struct PrintingListener;

impl MessageListener for PrintingListener {
    fn consume(&self, batches: &mut [ConsumeBatch]) {
        let mut out = std::io::stdout().lock();
        for b in batches {
            for m in &b.messages {
                let _ = writeln!(out, "MSG {} {} {}", m.msg_id, m.queue_id, m.queue_offset);
            }
            // Only acknowledge what the parent can see.
            b.status = if out.flush().is_ok() {
                ConsumeStatus::Success
            } else {
                ConsumeStatus::ReconsumeLater
            };
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut namesrv, mut group, mut topic) = (None, None, None);
    for pair in args.chunks(2) {
        match (pair[0].as_str(), pair.get(1)) {
            ("--namesrv", Some(v)) => namesrv = Some(v.clone()),
            ("--group", Some(v)) => group = Some(v.clone()),
            ("--topic", Some(v)) => topic = Some(v.clone()),
            (other, _) => {
                eprintln!("fault-consumer: unknown or incomplete option {other}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(namesrv), Some(group), Some(topic)) = (namesrv, group, topic) else {
        eprintln!("fault-consumer: --namesrv, --group and --topic are required");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fault-consumer: no runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let config = PushConsumerConfig {
        group,
        consume_from: ConsumeFrom::FirstOffset,
        thread_count: 2,
        rebalance_interval: Duration::from_millis(500),
        persist_interval: Duration::from_millis(200),
        long_poll: Duration::from_secs(1),
        pull_error_backoff: Duration::from_millis(100),
        ..PushConsumerConfig::default()
    };
    let client = ClientConfig {
        name_servers: vec![namesrv],
        instance_name: format!("fault-consumer-{}", std::process::id()),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..ClientConfig::default()
    };
    let consumer = match PushConsumer::start(
        runtime.handle().clone(),
        client,
        config,
        vec![Subscription {
            topic: topic.clone(),
            filter: TagFilter::parse("*"),
        }],
        Arc::new(PrintingListener),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fault-consumer: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    // stdin end of file (parent closed it or died) ends the run.
    let (eof_tx, eof_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = eof_tx.send(());
    });
    let mut last = usize::MAX;
    loop {
        let n = consumer
            .pulling_queues()
            .iter()
            .filter(|q| q.topic == topic)
            .count();
        if n != last {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "PULLING {n}");
            let _ = out.flush();
            last = n;
        }
        match eof_rx.recv_timeout(Duration::from_millis(50)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    consumer.shutdown(Duration::from_secs(2));
    ExitCode::SUCCESS
}
