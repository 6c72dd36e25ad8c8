//! The file store: commit log + consume queues + JSON configs on disk (see the crate docs).
//!
//! Write path of [`FileStore::put_messages`]:
//! 1. validate and encode every record outside any lock (offsets and store time left 0);
//! 2. under the append lock: lay out the records and create any commit-log segment or
//!    consume-queue file they need (a full disk fails here, before anything is written);
//!    assign queue offsets and a non-decreasing store timestamp, patch them in, copy the
//!    records into the mapped segments, write the consume-queue entries, publish the
//!    commit-log end, then the consume-queue ends;
//! 3. under sync flush, register the end offset with the group commit and hand the waiter out.
//!
//! Threads: `store-flush` (commit-log flushes, group commit) and `store-maintenance`
//! (consume-queue flushes + checkpoint every `flush_interval`, consumer offsets every 5 s).
//!
//! Lock order: append lock -> (segment list / queue map) locks; the maintenance thread takes
//! the append lock only briefly to sample a consistent commit-log end for the checkpoint.

use crate::atomic_file::{read_optional, valid_config_name, write_atomic};
use crate::commit_log::CommitLog;
use crate::config::{FlushMode, StoreConfig};
use crate::consume_queue::{queue_dir, valid_queue_topic, ConsumeQueue};
use crate::error::StoreError;
use crate::flush::{FlushTarget, GroupCommit, Maintenance, StopMode};
use crate::message_store::{
    GetRequest, GetResult, MessageStore, MessageToStore, PutOutcome, PutResult, QueueEntry,
};
use crate::offsets::ConsumerOffsets;
use crate::queue_read;
use crate::recovery::{
    default_tags_code, repair_consume_queue, scan_records, segment_start_for, Checkpoint,
    RecoveryStats,
};
use crate::topics::TopicConfigs;
use bytes::Bytes;
use rocketmq_protocol::body::topic_config::TopicConfig;
use rocketmq_protocol::clock::now_millis;
use rocketmq_protocol::message::{
    encode_record, pos_store_timestamp, RecordParts, POS_PHYSICAL_OFFSET, POS_QUEUE_OFFSET,
    POS_SYS_FLAG,
};
use rocketmq_protocol::sysflag;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

type QueueKey = (String, i32);

struct AppendState {
    /// Store timestamps never go backwards, so offset-by-time can binary-search.
    last_store_timestamp: i64,
}

struct Inner {
    config: StoreConfig,
    commit_log: CommitLog,
    queues: RwLock<BTreeMap<QueueKey, Arc<ConsumeQueue>>>,
    append: Mutex<AppendState>,
    group_commit: Arc<GroupCommit>,
    offsets: ConsumerOffsets,
    topics: TopicConfigs,
    last_checkpoint: Mutex<Checkpoint>,
    shut_down: AtomicBool,
    _lock_file: File,
}

/// The durable store. Open with [`FileStore::open`]; call [`MessageStore::shutdown`] for a
/// clean close. Dropping it without shutdown stops its thread but leaves the `abort` marker,
/// as a crash would.
pub struct FileStore {
    inner: Arc<Inner>,
    maintenance: Arc<Maintenance>,
    /// The group-commit thread and the maintenance thread.
    threads: Mutex<Vec<JoinHandle<()>>>,
    recovery: RecoveryStats,
}

/// A topic name usable as a consume-queue directory name.
pub(crate) fn check_topic(topic: &str) -> Result<(), StoreError> {
    if valid_queue_topic(topic) {
        Ok(())
    } else {
        Err(StoreError::MessageIllegal(format!(
            "topic {topic:?} cannot be stored"
        )))
    }
}

fn lock_dir(root: &Path) -> Result<File, StoreError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("lock"))?;
    // SAFETY: plain flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "store directory {} is in use by another store",
                root.display()
            ),
        )));
    }
    Ok(f)
}

fn load_queues(
    root: &Path,
    entries_per_file: u64,
) -> Result<BTreeMap<QueueKey, Arc<ConsumeQueue>>, StoreError> {
    let mut out = BTreeMap::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for topic_dir in rd {
        let topic_dir = topic_dir?;
        let Some(topic) = topic_dir.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if check_topic(&topic).is_err() || !topic_dir.file_type()?.is_dir() {
            continue;
        }
        for q in std::fs::read_dir(topic_dir.path())? {
            let q = q?;
            let Some(qid) = q.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let cq = ConsumeQueue::open(q.path(), &topic, qid, entries_per_file)?;
            out.insert((topic.clone(), qid), Arc::new(cq));
        }
    }
    Ok(out)
}

struct RedispatchPass {
    entries: u64,
    /// Some record's queue offset was past its queue's end (entries missing before it).
    gap: bool,
}

/// Writes consume-queue entries for the records from `from` whose queue offset is at or past
/// their queue's end. A queue with a gap is left alone for the rest of the pass.
fn redispatch(
    commit_log: &CommitLog,
    queues: &mut BTreeMap<QueueKey, Arc<ConsumeQueue>>,
    cq_root: &Path,
    config: &StoreConfig,
    from: u64,
    valid_end: u64,
) -> Result<RedispatchPass, StoreError> {
    let mut pass = RedispatchPass {
        entries: 0,
        gap: false,
    };
    let mut failure: Option<StoreError> = None;
    let mut gapped: std::collections::HashSet<QueueKey> = Default::default();
    let hook = config.tags_code_for_recovery.clone();
    scan_records(commit_log, from, false, |offset, v| {
        if failure.is_some() || offset >= valid_end || !sysflag::is_dispatched(v.sys_flag) {
            return;
        }
        if check_topic(v.topic).is_err() {
            return;
        }
        let key = (v.topic.to_string(), v.queue_id);
        if gapped.contains(&key) {
            return;
        }
        let cq = match queues.get(&key) {
            Some(cq) => cq.clone(),
            None => match ConsumeQueue::open(
                queue_dir(cq_root, v.topic, v.queue_id),
                v.topic,
                v.queue_id,
                config.consume_queue_entries_per_file,
            ) {
                Ok(cq) => {
                    let cq = Arc::new(cq);
                    queues.insert(key.clone(), cq.clone());
                    cq
                }
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            },
        };
        let max = cq.max_offset();
        if v.queue_offset < max {
            return;
        }
        if v.queue_offset > max {
            tracing::warn!(
                "record at {offset} has queue offset {} but {}/{} ends at {max}",
                v.queue_offset,
                v.topic,
                v.queue_id
            );
            pass.gap = true;
            gapped.insert(key);
            return;
        }
        let tags_code = match &hook {
            Some(f) => f(&v.to_owned_message()),
            None => default_tags_code(v.properties),
        };
        let entry = QueueEntry {
            commit_log_offset: offset as i64,
            size: v.total_size,
            tags_code,
        };
        if let Err(e) = cq.ensure_capacity(v.queue_offset) {
            failure = Some(e);
            return;
        }
        cq.write(v.queue_offset, &entry);
        cq.publish(v.queue_offset + 1);
        pass.entries += 1;
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(pass),
    }
}

impl FileStore {
    /// Opens (creating if needed) the store under `config.root` and recovers it.
    pub fn open(config: StoreConfig) -> Result<Arc<FileStore>, StoreError> {
        if config.commit_log_segment_size < 4096 || config.consume_queue_entries_per_file == 0 {
            return Err(StoreError::MessageIllegal(
                "commit-log segments must be at least 4 KiB and consume-queue files hold at least one entry"
                    .into(),
            ));
        }
        let root = config.root.clone();
        std::fs::create_dir_all(&root)?;
        let lock_file = lock_dir(&root)?;
        let abort_path = root.join("abort");
        let clean_shutdown = !abort_path.exists();
        if clean_shutdown {
            tracing::info!("store {}: previous shutdown was clean", root.display());
        } else {
            tracing::warn!(
                "store {}: previous run did not shut down cleanly; validating the commit log tail",
                root.display()
            );
        }
        let checkpoint = Checkpoint::load(&root.join("checkpoint"));

        // 1-2: validate the commit log, cut the torn tail.
        let commit_log = CommitLog::open(&root.join("commitlog"), config.commit_log_segment_size)?;
        let validated_from = segment_start_for(&commit_log, checkpoint.commit_log_flushed);
        let mut last_store_timestamp = 0i64;
        let (valid_end, records_validated) = scan_records(
            &commit_log,
            validated_from,
            config.check_crc_on_recovery,
            |_, v| last_store_timestamp = last_store_timestamp.max(v.store_timestamp),
        );
        commit_log.truncate_to(valid_end)?;
        commit_log.set_recovered_end(valid_end);

        // 3: consume queues agree with the commit log.
        let cq_root = root.join("consumequeue");
        let mut queues = load_queues(&cq_root, config.consume_queue_entries_per_file)?;
        let mut entries_truncated = 0;
        for cq in queues.values() {
            entries_truncated += repair_consume_queue(&commit_log, cq, valid_end)?;
        }

        // 4: re-dispatch what the queues do not cover. Start where the checkpoint says the
        // queues were durable; if some queue turns out to lack earlier entries (a gap: its
        // files were lost), run again from the start of the log.
        let checkpoint_start = segment_start_for(
            &commit_log,
            checkpoint.consume_queues_flushed.min(valid_end),
        );
        let mut entries_redispatched = 0u64;
        for from in [checkpoint_start, commit_log.min_offset()] {
            let pass = redispatch(&commit_log, &mut queues, &cq_root, &config, from, valid_end)?;
            entries_redispatched += pass.entries;
            if !pass.gap {
                break;
            }
            tracing::warn!(
                "consume queues miss entries before the checkpoint; rebuilding from the log start"
            );
        }
        // Make everything recovery relied on durable (it may have come from the page cache of
        // a crashed process), so the checkpoint written below tells the truth.
        for seg in commit_log.segments() {
            if seg.end() > validated_from {
                seg.sync_file()?;
            }
        }
        for cq in queues.values() {
            cq.flush()?;
            cq.sync_files()?;
        }
        let recovery = RecoveryStats {
            clean_shutdown,
            validated_from,
            records_validated,
            valid_end,
            entries_truncated,
            entries_redispatched,
        };
        tracing::info!("store {} recovered: {recovery:?}", root.display());

        let config_dir = root.join("config");
        std::fs::create_dir_all(&config_dir)?;
        let offsets = ConsumerOffsets::load(Some(config_dir.join("consumerOffset.json")))?;
        let topics = TopicConfigs::load(Some(config_dir.join("topics.json")))?;

        // The checkpoint now matches what is on disk; then mark the run as in progress.
        let checkpoint = Checkpoint {
            commit_log_flushed: valid_end,
            consume_queues_flushed: valid_end,
        };
        checkpoint.save(&root.join("checkpoint"))?;
        File::create(&abort_path)?.sync_all()?;
        crate::mapped_file::sync_dir(&root)?;

        let group_commit = Arc::new(GroupCommit::new(
            config.flush_interval,
            config.group_commit_gather,
            valid_end,
        ));
        let inner = Arc::new(Inner {
            config,
            commit_log,
            queues: RwLock::new(queues),
            // Continue from the newest stored time so store times stay non-decreasing even if
            // the clock stepped back across the restart.
            append: Mutex::new(AppendState {
                last_store_timestamp,
            }),
            group_commit: group_commit.clone(),
            offsets,
            topics,
            last_checkpoint: Mutex::new(checkpoint),
            shut_down: AtomicBool::new(false),
            _lock_file: lock_file,
        });
        let maintenance = Arc::new(Maintenance::new(inner.config.flush_interval));
        let mut threads = Vec::new();
        let target: Arc<dyn FlushTarget> = inner.clone();
        threads.push(
            std::thread::Builder::new()
                .name("store-flush".into())
                .spawn(move || group_commit.run(target))?,
        );
        let target: Arc<dyn FlushTarget> = inner.clone();
        let m = maintenance.clone();
        let spawned = std::thread::Builder::new()
            .name("store-maintenance".into())
            .spawn(move || m.run(target));
        let store = FileStore {
            inner,
            maintenance,
            threads: Mutex::new(threads),
            recovery,
        };
        match spawned {
            Ok(h) => store
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(h),
            // Dropping `store` stops the flusher thread already started.
            Err(e) => return Err(e.into()),
        }
        Ok(Arc::new(store))
    }

    /// Commit-log flushes (fsyncs) performed so far.
    pub fn commit_log_fsync_count(&self) -> u64 {
        self.inner.group_commit.fsync_count()
    }

    /// Commit-log offset known durable.
    pub fn flushed_offset(&self) -> i64 {
        self.inner.group_commit.flushed_offset() as i64
    }

    /// What recovery found when this store was opened.
    pub fn recovery_stats(&self) -> RecoveryStats {
        self.recovery
    }

    /// Whether the run before this open shut down cleanly.
    pub fn last_shutdown_clean(&self) -> bool {
        self.recovery.clean_shutdown
    }

    pub fn root(&self) -> &Path {
        &self.inner.config.root
    }

    fn stop_threads(&self, mode: StopMode) {
        self.inner.group_commit.stop(mode);
        self.maintenance.stop();
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if !self.inner.shut_down.load(Ordering::Acquire) {
            // Not a clean close: stop the thread, keep the abort marker.
            self.inner.shut_down.store(true, Ordering::Release);
            self.stop_threads(StopMode::Abandon);
        }
    }
}

impl Inner {
    fn queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(topic.to_string(), queue_id))
            .cloned()
    }

    /// Caller holds the append lock.
    fn queue_or_create(&self, topic: &str, queue_id: i32) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(q) = self.queue(topic, queue_id) {
            return Ok(q);
        }
        let dir = queue_dir(&self.config.root.join("consumequeue"), topic, queue_id);
        let cq = Arc::new(ConsumeQueue::open(
            dir,
            topic,
            queue_id,
            self.config.consume_queue_entries_per_file,
        )?);
        self.queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((topic.to_string(), queue_id), cq.clone());
        Ok(cq)
    }

    fn record_of(&self, e: &QueueEntry) -> Option<Bytes> {
        if e.commit_log_offset < 0 || e.size <= 0 {
            return None;
        }
        self.commit_log
            .read(e.commit_log_offset as u64, e.size as usize)
    }

    fn store_time_of(&self, e: &QueueEntry) -> Option<i64> {
        if e.commit_log_offset < 0 || e.size <= 0 {
            return None;
        }
        self.commit_log
            .store_timestamp_at(e.commit_log_offset as u64, e.size as usize)
    }

    fn flush_commit_log_counted(&self) -> std::io::Result<()> {
        let (_, did) = self.commit_log.flush()?;
        if did {
            self.group_commit
                .note_fsync(self.commit_log.flushed_offset());
        }
        Ok(())
    }

    /// Flushes consume queues and records the progress in the checkpoint.
    fn flush_queues_and_checkpoint(&self) -> Result<(), StoreError> {
        // Sampled under the append lock: every record below this has its entry published.
        let dispatched_to = {
            let _g = self.append.lock().unwrap_or_else(|e| e.into_inner());
            self.commit_log.max_offset()
        };
        let queues: Vec<_> = self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for q in queues {
            q.flush()?;
        }
        let cp = Checkpoint {
            commit_log_flushed: self.commit_log.flushed_offset(),
            consume_queues_flushed: dispatched_to,
        };
        let mut last = self
            .last_checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *last != cp {
            cp.save(&self.config.root.join("checkpoint"))?;
            *last = cp;
        }
        Ok(())
    }
}

impl FlushTarget for Inner {
    fn flush_commit_log(&self) -> std::io::Result<(u64, bool)> {
        self.commit_log.flush()
    }

    fn flush_consume_queues(&self) {
        if let Err(e) = self.flush_queues_and_checkpoint() {
            tracing::error!("consume queue flush failed: {e}");
        }
    }

    fn persist_offsets(&self) {
        if let Err(e) = self.offsets.persist() {
            tracing::error!("persisting consumer offsets failed: {e}");
        }
    }
}

struct Encoded {
    start: usize,
    len: usize,
    sys_flag: i32,
    dispatched: bool,
}

impl MessageStore for FileStore {
    fn put_messages(&self, msgs: Vec<MessageToStore>) -> Result<PutOutcome, StoreError> {
        let inner = &self.inner;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        if msgs.is_empty() {
            return Ok(PutOutcome {
                results: Vec::new(),
                durable: None,
            });
        }
        // 1. Validate and encode outside the lock.
        let mut buf = Vec::new();
        let mut encoded = Vec::with_capacity(msgs.len());
        for m in &msgs {
            check_topic(&m.topic)?;
            if m.body.len() > inner.config.max_message_size {
                return Err(StoreError::MessageIllegal(format!(
                    "message body of {} bytes exceeds the maximum of {} bytes",
                    m.body.len(),
                    inner.config.max_message_size
                )));
            }
            let parts = RecordParts {
                queue_id: m.queue_id,
                flag: m.flag,
                queue_offset: 0,
                physical_offset: 0,
                sys_flag: m.sys_flag,
                born_timestamp: m.born_timestamp,
                born_host: m.born_host,
                store_timestamp: 0,
                store_host: m.store_host,
                reconsume_times: m.reconsume_times,
                prepared_transaction_offset: m.prepared_transaction_offset,
                body: &m.body,
                topic: &m.topic,
                properties: &m.properties,
            };
            let start = buf.len();
            let len = encode_record(&parts, &mut buf)
                .map_err(|e| StoreError::MessageIllegal(e.to_string()))?;
            let sys_flag = i32::from_be_bytes(
                buf[start + POS_SYS_FLAG..start + POS_SYS_FLAG + 4]
                    .try_into()
                    .unwrap_or([0; 4]),
            );
            encoded.push(Encoded {
                start,
                len,
                sys_flag,
                dispatched: sysflag::is_dispatched(m.sys_flag),
            });
        }
        let sizes: Vec<usize> = encoded.iter().map(|e| e.len).collect();

        // 2. Under the append lock: plan, allocate, write, dispatch, publish.
        let mut results = Vec::with_capacity(msgs.len());
        let end = {
            let mut st = inner.append.lock().unwrap_or_else(|e| e.into_inner());
            if inner.shut_down.load(Ordering::Acquire) {
                return Err(StoreError::ShutDown);
            }
            let plan = inner.commit_log.plan(&sizes)?;
            let mut next_offsets: HashMap<QueueKey, (Arc<ConsumeQueue>, i64)> = HashMap::new();
            let mut queue_offsets = Vec::with_capacity(msgs.len());
            for (m, e) in msgs.iter().zip(&encoded) {
                if !e.dispatched {
                    queue_offsets.push(None);
                    continue;
                }
                let key = (m.topic.clone(), m.queue_id);
                let slot = match next_offsets.get_mut(&key) {
                    Some(s) => s,
                    None => {
                        let cq = inner.queue_or_create(&m.topic, m.queue_id)?;
                        let max = cq.max_offset();
                        next_offsets.entry(key).or_insert((cq, max))
                    }
                };
                let qo = slot.1;
                slot.0.ensure_capacity(qo)?;
                slot.1 += 1;
                queue_offsets.push(Some((slot.0.clone(), qo)));
            }
            let now = now_millis().max(st.last_store_timestamp);
            st.last_store_timestamp = now;
            for &(off, remaining) in &plan.blanks {
                inner.commit_log.write_blank_at(off, remaining);
            }
            for (((m, e), pos), qo) in msgs
                .iter()
                .zip(&encoded)
                .zip(&plan.positions)
                .zip(&queue_offsets)
            {
                let rec = &mut buf[e.start..e.start + e.len];
                let queue_offset = qo.as_ref().map(|(_, o)| *o).unwrap_or(0);
                rec[POS_QUEUE_OFFSET..POS_QUEUE_OFFSET + 8]
                    .copy_from_slice(&queue_offset.to_be_bytes());
                rec[POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8]
                    .copy_from_slice(&(*pos as i64).to_be_bytes());
                let ts = pos_store_timestamp(e.sys_flag);
                rec[ts..ts + 8].copy_from_slice(&now.to_be_bytes());
                if !inner.commit_log.write_at(*pos, rec) {
                    // The plan created the segment; failing here means a broken invariant.
                    return Err(StoreError::Io(std::io::Error::other(
                        "commit log segment missing for a planned write",
                    )));
                }
                if let Some((cq, o)) = qo {
                    cq.write(
                        *o,
                        &QueueEntry {
                            commit_log_offset: *pos as i64,
                            size: e.len as i32,
                            tags_code: m.tags_code,
                        },
                    );
                }
                results.push(PutResult {
                    commit_log_offset: *pos as i64,
                    queue_offset: qo.as_ref().map(|(_, o)| *o).unwrap_or(-1),
                    size: e.len as i32,
                    store_timestamp: now,
                });
            }
            inner.commit_log.publish(plan.end);
            for (cq, next) in next_offsets.values() {
                cq.publish(*next);
            }
            plan.end
        };

        // 3. Group commit.
        let durable = match inner.config.flush {
            FlushMode::Sync => Some(inner.group_commit.register(end)),
            FlushMode::Async => None,
        };
        Ok(PutOutcome { results, durable })
    }

    fn get_messages(&self, req: &GetRequest<'_>, filter: &dyn Fn(i64) -> bool) -> GetResult {
        let Some(cq) = self.inner.queue(req.topic, req.queue_id) else {
            return queue_read::no_queue();
        };
        queue_read::get_messages(
            req,
            filter,
            cq.min_offset(),
            cq.max_offset(),
            |n| cq.get(n),
            |e| self.inner.record_of(e),
        )
    }

    fn queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<QueueEntry> {
        self.inner.queue(topic, queue_id)?.get(offset)
    }

    fn read_record(&self, commit_log_offset: i64) -> Option<Bytes> {
        if commit_log_offset < 0 {
            return None;
        }
        self.inner.commit_log.read_record(commit_log_offset as u64)
    }

    fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .queue(topic, queue_id)
            .map(|q| q.max_offset())
            .unwrap_or(0)
    }

    fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .queue(topic, queue_id)
            .map(|q| q.min_offset())
            .unwrap_or(0)
    }

    fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let q = self.inner.queue(topic, queue_id)?;
        let e = q.get(q.min_offset())?;
        self.inner.store_time_of(&e)
    }

    fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64 {
        let Some(q) = self.inner.queue(topic, queue_id) else {
            return 0;
        };
        queue_read::offset_by_time(q.min_offset(), q.max_offset(), timestamp, upper, |n| {
            q.get(n).and_then(|e| self.inner.store_time_of(&e))
        })
    }

    fn max_commit_log_offset(&self) -> i64 {
        self.inner.commit_log.max_offset() as i64
    }

    fn queues(&self) -> Vec<(String, i32)> {
        self.inner
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn commit_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.inner.offsets.commit(group, topic, queue_id, offset);
    }

    fn committed_offset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner.offsets.get(group, topic, queue_id)
    }

    fn topic_config(&self, topic: &str) -> Option<TopicConfig> {
        self.inner.topics.get(topic)
    }

    fn put_topic_config(&self, config: TopicConfig) -> Result<(), StoreError> {
        self.inner.topics.put(config)
    }

    fn topic_configs(&self) -> Vec<TopicConfig> {
        self.inner.topics.all()
    }

    fn load_config(&self, name: &str) -> Option<String> {
        if !valid_config_name(name) {
            return None;
        }
        let path = self
            .inner
            .config
            .root
            .join("config")
            .join(format!("{name}.json"));
        read_optional(&path).ok().flatten()
    }

    fn save_config(&self, name: &str, json: &str) -> Result<(), StoreError> {
        if !valid_config_name(name) {
            return Err(StoreError::MessageIllegal(format!(
                "bad config name {name:?}"
            )));
        }
        let path: PathBuf = self
            .inner
            .config
            .root
            .join("config")
            .join(format!("{name}.json"));
        write_atomic(&path, json.as_bytes())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush_commit_log_counted()?;
        self.inner.flush_queues_and_checkpoint()?;
        self.inner.offsets.persist()?;
        Ok(())
    }

    fn shutdown(&self) {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wait for an append in progress to finish publishing, then make everything durable
        // before the flusher stops, so a writer registering late still gets `Ok`.
        drop(self.inner.append.lock().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = self.inner.flush_commit_log_counted() {
            tracing::error!("commit log flush at shutdown failed: {e}");
        }
        self.stop_threads(StopMode::Clean);
        let result = MessageStore::flush(self);
        match result {
            Ok(()) => {
                let root = &self.inner.config.root;
                let removed = std::fs::remove_file(root.join("abort"))
                    .and_then(|_| crate::mapped_file::sync_dir(root));
                if let Err(e) = removed {
                    tracing::error!("removing the abort marker failed: {e}");
                }
                tracing::info!("store {} shut down cleanly", root.display());
            }
            Err(e) => tracing::error!("final flush at shutdown failed: {e}"),
        }
    }
}
