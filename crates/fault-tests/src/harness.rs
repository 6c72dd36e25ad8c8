//! Seeds, round counts, bounded waits and process limits shared by every fault test.

use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The seed of a randomized test: `FAULT_TESTS_SEED` if set, else random. Printed so that a
/// failing run can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("FAULT_TESTS_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: seed {seed} (replay with FAULT_TESTS_SEED={seed})");
    seed
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Rounds of a repeated fault: `FAULT_TESTS_ROUNDS` if set (soak runs), else `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("FAULT_TESTS_ROUNDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(default)
}

static BACKGROUND_PANICS: AtomicU64 = AtomicU64::new(0);
static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

/// Counts panics on background threads (tokio workers, client dispatcher threads, the proxy;
/// not the test threads, whose failed assertions are panics too). Installs a hook that keeps
/// the default report; returns the count so far.
pub fn background_panics() -> u64 {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            if name.is_empty()
                || name.starts_with("tokio")
                || name.starts_with("rocketmq")
                || name.starts_with("fault-proxy")
            {
                BACKGROUND_PANICS.fetch_add(1, Ordering::Relaxed);
            }
            previous(info);
        }));
    });
    BACKGROUND_PANICS.load(Ordering::Relaxed)
}

/// Polls `cond` every 10 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Raises the soft open-file limit to the hard limit (1000 idle connections need it).
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}
