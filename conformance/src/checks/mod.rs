//! The catalogue of checks: each has a stable name (`<group>.<what>`), a
//! group (a namespace of the contract, or a behaviour: `config`, `keepalive`,
//! `sse`, `lifecycle`, `cors`; `securt` also holds SecuRT behaviour across
//! operations), and says whether it checks an `x-rt-extension`
//! feature (left out by `--strict-rt`).

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::ctx::{CheckResult, Ctx};
use crate::spec::Contract;

mod config;
mod cors;
mod keepalive;
mod lifecycle;
mod operations;
mod rt;
mod securt;
mod sse;

/// What runs a check.
pub type RunFn = Arc<dyn Fn(Ctx) -> BoxFuture<'static, CheckResult> + Send + Sync>;

/// One check.
#[derive(Clone)]
pub struct Check {
    /// Stable name, e.g. `core.start_instance.406` or `sse.framing`.
    pub name: String,
    pub group: String,
    /// Checks an `x-rt-extension` feature.
    pub extension: bool,
    /// What it checks, one line.
    pub about: String,
    pub run: RunFn,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("group", &self.group)
            .field("extension", &self.extension)
            .finish_non_exhaustive()
    }
}

/// Builds a check from an async function of the context.
pub fn check<F, Fut>(
    name: impl Into<String>,
    group: &str,
    extension: bool,
    about: impl Into<String>,
    f: F,
) -> Check
where
    F: Fn(Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    Check {
        name: name.into(),
        group: group.to_string(),
        extension,
        about: about.into(),
        run: Arc::new(move |ctx| f(ctx).boxed()),
    }
}

/// Every check the suite knows for `contract`, in run order.
pub fn all(contract: &Contract) -> Vec<Check> {
    let mut checks = operations::checks(contract);
    checks.extend(config::checks());
    checks.extend(lifecycle::checks());
    checks.extend(securt::checks());
    checks.extend(keepalive::checks(contract));
    checks.extend(sse::checks());
    checks.extend(cors::checks());
    checks.extend(rt::checks());
    checks
}
