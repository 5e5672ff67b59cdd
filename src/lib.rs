//! The `logreasoner` binary's library half: the benchmarks behind `logreasoner bench`, which time
//! core modules and real screens against their peers. The core is `logreasoner-core`, the screens
//! are `logreasoner-tui`; the command line itself is the binary (`main.rs`, `cli.rs`, `*_cmd.rs`).

// `unsafe` only where a module says why (`#![allow(unsafe_code)]` at its top).
#![deny(unsafe_code)]

pub mod bench;
