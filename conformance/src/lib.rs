//! `rt-conformance`: checks any RT-compatible server against the RT Server
//! REST API contract (`openapi/openapi.yaml`, embedded; or another file).
//!
//! It creates its own instances, rules and registry keys, named with a
//! recognisable prefix (`rt-conformance-<run>-`), deletes them after each
//! check whether it passed or not, and never writes to anything it did not
//! create (the one exception is opt-in: `--read-only-instance`, an
//! instance the operator offers for refused-write probes).
//!
//! ```no_run
//! # async fn demo() -> Result<(), rt_conformance::Error> {
//! use std::sync::Arc;
//! use rt_conformance::{Contract, Options, plan, run};
//! let contract = Arc::new(Contract::embedded()?);
//! let options = Options::new("http://127.0.0.1:3546");
//! let checks = plan(&contract, &options);
//! let report = run(contract, &options, checks, |_, _, _| {}).await?;
//! assert!(report.passed());
//! # Ok(()) }
//! ```

pub mod checks;
pub mod ctx;
mod error;
pub mod raw;
pub mod report;
pub mod runner;
pub mod spec;

pub use error::Error;
pub use report::{Format, render, summary};
pub use runner::{CheckReport, Options, Outcome, Report, plan, run};
pub use spec::Contract;

/// The README's example compiles (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
