//! `rocketmq-loadgen`: drives a broker with SEND_MESSAGE (or SEND_BATCH_MESSAGE) requests over
//! many pipelined connections and prints one JSON line with throughput and latency.
//!
//! It speaks the wire protocol directly (via `rocketmq-protocol`), with no name server and no
//! client library, so it measures the broker alone. Each connection keeps up to `--window`
//! requests in flight. Frames are encoded once up front: a connection cycles through a ring of
//! `2 * window` frames with distinct opaques, so an opaque is never reused while its request is
//! still in flight and a response finds its send time at `opaque % ring`.
//!
//! The run is bounded: it stops sending at `--duration` seconds and waits at most 5 s more for
//! outstanding answers; answers received during the first `--warmup` seconds are not counted.

use bytes::{Bytes, BytesMut};
use clap::Parser;
use rocketmq_protocol::batch::{encode_batch, BatchEntry};
use rocketmq_protocol::frame;
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const SEND_MESSAGE: i32 = 10;
const SEND_BATCH_MESSAGE: i32 = 320;
const SUCCESS: i32 = 0;
/// Longest wait for outstanding answers after the sending stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

#[derive(Parser, Debug, Clone)]
#[command(about = "Pipelined SEND_MESSAGE load against one broker; prints one JSON line")]
struct Args {
    /// Broker address (host:port), not the name server. Not needed with `--null-broker`.
    #[arg(long, required_unless_present = "null_broker")]
    broker: Option<SocketAddr>,
    /// Instead of a broker, drive a null broker started in this process on 127.0.0.1: it
    /// decodes every request and answers SUCCESS without storing anything. The figure is the
    /// ceiling of this load generator plus loopback TCP plus the frame codec.
    #[arg(long)]
    null_broker: bool,
    /// Topic to send to (auto-created by the broker from TBW102).
    #[arg(long, default_value = "BenchLoadgen")]
    topic: String,
    /// Number of TCP connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Body size in bytes.
    #[arg(long, default_value_t = 1024)]
    body: usize,
    /// Messages per request: 1 sends SEND_MESSAGE, more sends SEND_BATCH_MESSAGE.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Queues of the topic; connection i sends to queue i % queues.
    #[arg(long, default_value_t = 8)]
    queues: i32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds at the start whose answers are not counted.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Send exactly this many messages and stop (0: send for `--duration` seconds instead,
    /// which then only bounds the run).
    #[arg(long, default_value_t = 0)]
    total: u64,
    /// Runtime worker threads (the broker needs the other core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// What one connection measured after the warm-up.
#[derive(Default)]
struct ConnStats {
    ok_requests: u64,
    failed_requests: u64,
    /// Answer code -> count, for the answers that were not SUCCESS.
    failed_codes: BTreeMap<i32, u64>,
    /// The remark of the first answer that was not SUCCESS.
    first_failure: Option<String>,
    latencies_us: Vec<u32>,
}

/// A 32-hex-digit client message id, as real producers put in UNIQ_KEY (the broker then
/// does not generate one). Unique per connection, frame and batch entry; a frame is resent
/// with the same ids, which the broker does not check.
fn uniq_key(connection: usize, opaque: i32, entry: usize) -> String {
    format!(
        "{:016X}{:08X}{:08X}",
        connection, opaque as u32, entry as u32
    )
}

fn request_frame(
    args: &Args,
    connection: usize,
    queue_id: i32,
    opaque: i32,
    body: &Bytes,
) -> Bytes {
    let batch = args.batch > 1;
    let payload = if batch {
        let entries: Vec<BatchEntry> = (0..args.batch)
            .map(|entry| BatchEntry {
                flag: 0,
                body: body.clone(),
                properties: format!("UNIQ_KEY\u{1}{}\u{2}", uniq_key(connection, opaque, entry)),
            })
            .collect();
        encode_batch(&entries).expect("batch of small bodies encodes")
    } else {
        body.clone()
    };
    // SEND_BATCH_MESSAGE carries the V2 header (single-letter keys), as Java's and our
    // client send it: Apache's broker decodes only those for code 320 (ours also takes V1).
    let key = |v1: &'static str, v2: &'static str| if batch { v2 } else { v1 };
    let mut cmd = RemotingCommand::new_request(if batch {
        SEND_BATCH_MESSAGE
    } else {
        SEND_MESSAGE
    })
    .with_field(key("producerGroup", "a"), "BenchLoadgenGroup")
    .with_field(key("topic", "b"), &args.topic)
    .with_field(key("defaultTopic", "c"), "TBW102")
    .with_field(key("defaultTopicQueueNums", "d"), args.queues)
    .with_field(key("queueId", "e"), queue_id)
    .with_field(key("sysFlag", "f"), 0)
    .with_field(key("bornTimestamp", "g"), 1)
    .with_field(key("flag", "h"), 0)
    .with_field(
        key("properties", "i"),
        format!(
            "WAIT\u{1}true\u{2}UNIQ_KEY\u{1}{}\u{2}",
            uniq_key(connection, opaque, 0)
        ),
    )
    .with_opaque(opaque)
    .with_body(payload);
    if batch {
        cmd.set_field("m", "true");
    }
    cmd.to_frame()
}

async fn run_connection(
    args: Arc<Args>,
    index: usize,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> std::io::Result<ConnStats> {
    let addr = args.broker.expect("broker address resolved before the run");
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut reader, mut writer) = stream.into_split();
    let ring = (args.window * 2).max(2);
    let body = Bytes::from(vec![b'x'; args.body]);
    let queue_id = (index as i32) % args.queues.max(1);
    let frames: Vec<Bytes> = (0..ring)
        .map(|i| request_frame(&args, index, queue_id, i as i32, &body))
        .collect();
    // Send time (ns since `start`) of the request whose opaque is the slot index.
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..ring).map(|_| AtomicU64::new(0)).collect());
    let window = Arc::new(Semaphore::new(args.window));
    let warmup = Duration::from_secs_f64(args.warmup);
    // Requests this connection sends in `--total` mode (u64::MAX: until stopped).
    let quota = if args.total > 0 {
        let per_conn = args.total.div_ceil(args.connections as u64);
        per_conn.div_ceil(args.batch as u64)
    } else {
        u64::MAX
    };
    let sent_count = Arc::new(AtomicU64::new(0));

    let writer_task = {
        let window = window.clone();
        let sent_at = sent_at.clone();
        let stop = stop.clone();
        let sent_count = sent_count.clone();
        tokio::spawn(async move {
            let mut next = 0usize;
            let mut sent = 0u64;
            let mut out = BytesMut::with_capacity(64 * 1024);
            while !stop.load(Ordering::Relaxed) && sent < quota {
                let Ok(permit) = window.acquire().await else {
                    break;
                };
                permit.forget();
                let mut count = 1;
                // Coalesce whatever else the window allows into one write.
                while count < 64 && sent + (count as u64) < quota {
                    match window.try_acquire() {
                        Ok(p) => {
                            p.forget();
                            count += 1;
                        }
                        Err(_) => break,
                    }
                }
                out.clear();
                let now = start.elapsed().as_nanos() as u64;
                for _ in 0..count {
                    let slot = next % ring;
                    sent_at[slot].store(now, Ordering::Relaxed);
                    out.extend_from_slice(&frames[slot]);
                    next += 1;
                }
                if writer.write_all(&out).await.is_err() {
                    break;
                }
                sent += count as u64;
                sent_count.store(sent, Ordering::Release);
            }
            // Hand the write half back instead of dropping it: dropping sends FIN, and the
            // broker stops answering a half-closed connection (in-flight answers are lost).
            (sent, writer)
        })
    };

    let mut stats = ConnStats::default();
    let mut buf = BytesMut::with_capacity(256 * 1024);
    let mut received = 0u64;
    let mut drain_deadline: Option<Instant> = None;
    loop {
        // Once the writer is done its count is final: stop when every request was answered.
        if writer_task.is_finished() && received >= sent_count.load(Ordering::Acquire) {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
            if Instant::now() > deadline {
                break;
            }
        }
        let read = tokio::time::timeout(Duration::from_millis(50), reader.read_buf(&mut buf)).await;
        match read {
            Err(_) => continue,
            Ok(Ok(0)) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
        loop {
            let cmd = match frame::decode(&mut buf) {
                Ok(Some(cmd)) => cmd,
                Ok(None) => break,
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        e.to_string(),
                    ))
                }
            };
            received += 1;
            let now = start.elapsed();
            let slot = (cmd.opaque as usize) % ring;
            let sent_ns = sent_at[slot].load(Ordering::Relaxed);
            if now >= warmup && (args.total > 0 || !stop.load(Ordering::Relaxed)) {
                if cmd.code == SUCCESS {
                    stats.ok_requests += 1;
                } else {
                    stats.failed_requests += 1;
                    *stats.failed_codes.entry(cmd.code).or_default() += 1;
                    if stats.first_failure.is_none() {
                        stats.first_failure = Some(cmd.remark.clone().unwrap_or_default());
                    }
                }
                let lat_us = (now.as_nanos() as u64).saturating_sub(sent_ns) / 1000;
                stats.latencies_us.push(lat_us.min(u32::MAX as u64) as u32);
            }
            window.add_permits(1);
        }
    }
    // After the drain limit the writer may be blocked on a full window; closing ends it.
    window.close();
    let _ = writer_task.await;
    Ok(stats)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64
}

async fn run(args: Args) -> serde_json::Value {
    let args = Arc::new(args);
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        tasks.push(tokio::spawn(run_connection(
            args.clone(),
            i,
            start,
            stop.clone(),
        )));
    }
    let measured_from = Duration::from_secs_f64(args.warmup);
    let until = Duration::from_secs_f64(args.duration.max(args.warmup + 0.1));
    let collect = async move {
        let mut all = Vec::with_capacity(tasks.len());
        for t in tasks {
            all.push(t.await);
        }
        all
    };
    tokio::pin!(collect);
    let limit = tokio::time::sleep(until);
    tokio::pin!(limit);
    // `--total` mode may finish before `until`; time mode always runs until it.
    let early = tokio::select! {
        _ = &mut limit => None,
        all = &mut collect, if args.total > 0 => Some(all),
    };
    let finished_at = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let results = match early {
        Some(all) => all,
        None => collect.await,
    };
    let secs = if args.total > 0 {
        finished_at.min(until)
    } else {
        until
    }
    .saturating_sub(measured_from)
    .as_secs_f64()
    .max(1e-9);

    let mut ok = 0u64;
    let mut failed = 0u64;
    let mut failed_codes: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_failure: Option<String> = None;
    let mut errors = Vec::new();
    let mut lat: Vec<u32> = Vec::new();
    for r in results {
        match r {
            Ok(Ok(s)) => {
                ok += s.ok_requests;
                failed += s.failed_requests;
                for (code, n) in s.failed_codes {
                    *failed_codes.entry(code.to_string()).or_default() += n;
                }
                first_failure = first_failure.or(s.first_failure);
                lat.extend(s.latencies_us);
            }
            Ok(Err(e)) => errors.push(e.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    lat.sort_unstable();
    let msgs = ok * args.batch as u64;
    serde_json::json!({
        "connections": args.connections,
        "window": args.window,
        "batch": args.batch,
        "body": args.body,
        "seconds": secs,
        "ok_requests": ok,
        "failed_requests": failed,
        "failed_codes": failed_codes,
        "first_failure_remark": first_failure,
        "connection_errors": errors,
        "msgs_per_s": msgs as f64 / secs,
        "mb_per_s": (msgs * args.body as u64) as f64 / secs / 1e6,
        "p50_us": percentile(&lat, 0.50),
        "p99_us": percentile(&lat, 0.99),
        "p999_us": percentile(&lat, 0.999),
    })
}

/// Serves the null broker on its own thread (own runtime, one worker) until the process ends.
fn start_null_broker() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(null_connection(stream));
            }
        });
    });
    addr
}

async fn null_connection(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut input = BytesMut::with_capacity(256 * 1024);
    let mut output = BytesMut::with_capacity(64 * 1024);
    loop {
        match stream.read_buf(&mut input).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        output.clear();
        while let Ok(Some(request)) = frame::decode(&mut input) {
            RemotingCommand::response_to(&request).encode(&mut output);
        }
        if !output.is_empty() && stream.write_all(&output).await.is_err() {
            return;
        }
    }
}

fn main() {
    let mut args = Args::parse();
    if args.null_broker {
        args.broker = Some(start_null_broker());
    }
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let report = rt.block_on(run(args));
    println!("{report}");
}
