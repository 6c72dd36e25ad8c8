//! Shared helpers of the fault tests (the tests are in `tests/`; see README.md).
//!
//! - [`ChildProcess`] / [`BrokerProcess`]: a broker or consumer in a process of its own
//!   (the `fault-broker` / `fault-consumer` binaries of this crate), killed with SIGKILL and
//!   restarted on the same store directory and ports;
//! - [`FaultProxy`]: a loopback TCP proxy that delays, stalls (drops traffic) and cuts
//!   connections, or stops listening altogether;
//! - [`pull_all_verified`]: reads every message of a topic from a broker, checking that each
//!   record decodes and that its body CRC matches;
//! - seeds, round counts and bounded waits.
//!
//! What must stay true: every wait is bounded in time, children die with the test (their
//! stdin is a pipe whose end of file stops them), everything listens on loopback only.

mod harness;
mod process;
mod proxy;
mod verify;

pub use harness::{background_panics, raise_fd_limit, rng, rounds, seed, wait_until};
pub use process::{BrokerOptions, BrokerProcess, ChildProcess};
pub use proxy::{FaultProxy, Faults};
pub use verify::{count_keys, create_topic, pull_all_verified, Pulled};
