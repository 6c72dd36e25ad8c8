//! Opening a file store: lock the directory, recover (see [`crate::recovery`] for the
//! steps), load the configs, write a truthful checkpoint and the `abort` marker, then start
//! the `store-flush` and `store-maintenance` threads.
//!
//! Runs before the store is shared, so nothing here takes the append lock.

use super::clean;
use super::retention_state::Retention;
use super::state::{check_topic, AppendState, FileStore, Inner, QueueKey};
use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::{queue_dir, ConsumeQueue};
use crate::disk_watermark::DiskWatermarks;
use crate::error::StoreError;
use crate::flush::{FlushTarget, GroupCommit, Maintenance};
use crate::index::MessageIndex;
use crate::message_store::QueueEntry;
use crate::offsets::ConsumerOffsets;
use crate::recovery::{
    default_tags_code, repair_consume_queue, scan_records, segment_start_for, Checkpoint,
    RecoveryStats,
};
use crate::topics::TopicConfigs;
use rocketmq_protocol::sysflag;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};

fn lock_dir(root: &Path) -> Result<File, StoreError> {
    match crate::platform::lock_file(&root.join("lock"))? {
        Some(f) => Ok(f),
        None => Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "store directory {} is in use by another store",
                root.display()
            ),
        ))),
    }
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

        // Retention may have removed the log's head: queues start at their first entry still
        // stored.
        for cq in queues.values() {
            cq.trim_below_commit_log(commit_log.min_offset() as i64)?;
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

        let index = match config.index {
            Some(c) => Some(Arc::new(MessageIndex::open(
                root.join("index"),
                c,
                clean_shutdown,
                commit_log.min_offset(),
                valid_end,
            )?)),
            None => None,
        };

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
        let (config_disk_max_used_ratio, config_disk_refuse_ratio) =
            (config.disk_max_used_ratio, config.disk_refuse_ratio);
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
            retention: Retention::new(DiskWatermarks::new(
                config_disk_max_used_ratio,
                config_disk_refuse_ratio,
            )),
            _lock_file: lock_file,
            index,
        });
        // Refuse at once if the disk is already past the refusal watermark.
        inner.retention.disk.sample(&inner.config.root);
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
        let indexing = inner.clone();
        let spawned_index = match inner.index.is_some() {
            true => std::thread::Builder::new()
                .name("store-index".into())
                .spawn(move || {
                    if let Some(index) = &indexing.index {
                        index.run(&indexing.commit_log);
                    }
                })
                .map(Some),
            false => Ok(None),
        };
        let cleaner = inner.clone();
        let spawned_cleaner = std::thread::Builder::new()
            .name("store-clean".into())
            .spawn(move || clean::run(cleaner));
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
        match spawned_index {
            Ok(Some(h)) => store
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(h),
            Ok(None) => {}
            Err(e) => return Err(e.into()),
        }
        match spawned_cleaner {
            Ok(h) => store
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(h),
            Err(e) => return Err(e.into()),
        }
        Ok(Arc::new(store))
    }
}
