//! JSON bodies carried by remoting commands.
//!
//! Bodies are written as compact standard JSON (numeric map keys quoted) and read leniently
//! (fastjson's unquoted numeric keys accepted, see [`crate::lenient_json`]).

pub mod topic_config;
