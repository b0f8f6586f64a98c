//! Caps on the streams a server holds open at once (event streams, the
//! registry watch, live views): `web_server.max_streams` in all and
//! `web_server.max_streams_per_instance` on one instance. Beyond either, a
//! new stream is refused with 503 and `Retry-After`, and streams already
//! open are untouched. A [`StreamPermit`] travels with the response body
//! and frees its place when the body is dropped (the client went, or the
//! stream ended).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::error::Error;

/// Open streams, in all and per instance.
#[derive(Debug, Default)]
struct Open {
    all: usize,
    by_instance: HashMap<Uuid, usize>,
}

/// The caps and what is open.
#[derive(Debug)]
pub struct StreamLimits {
    max: usize,
    per_instance: usize,
    open: Mutex<Open>,
}

/// One open stream's place; freed when dropped.
#[derive(Debug)]
pub struct StreamPermit {
    limits: Arc<StreamLimits>,
    instance: Option<Uuid>,
}

impl StreamLimits {
    pub fn new(max: usize, per_instance: usize) -> Arc<StreamLimits> {
        Arc::new(StreamLimits { max, per_instance, open: Mutex::default() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more stream (of `instance`, if it is an instance's).
    pub fn acquire(self: &Arc<Self>, instance: Option<Uuid>) -> Result<StreamPermit, Error> {
        let mut open = self.lock();
        if open.all >= self.max {
            return Err(Error::TooManyStreams(format!(
                "{} streams are open, the most this server holds (web_server.max_streams)",
                open.all
            )));
        }
        if let Some(id) = instance {
            let n = open.by_instance.entry(id).or_default();
            if *n >= self.per_instance {
                return Err(Error::TooManyStreams(format!(
                    "{n} streams of instance {id} are open, the most one instance may have \
                     (web_server.max_streams_per_instance)"
                )));
            }
            *n += 1;
        }
        open.all += 1;
        Ok(StreamPermit { limits: self.clone(), instance })
    }

    /// Streams open now (all of them).
    pub fn open(&self) -> usize {
        self.lock().all
    }

    /// Streams of `instance` open now.
    pub fn open_for(&self, instance: Uuid) -> usize {
        self.lock().by_instance.get(&instance).copied().unwrap_or(0)
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self.limits.lock();
        open.all = open.all.saturating_sub(1);
        if let Some(id) = self.instance
            && let Some(n) = open.by_instance.get_mut(&id)
        {
            *n -= 1;
            if *n == 0 {
                open.by_instance.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_in_all_and_per_instance_and_freed_on_drop() {
        let limits = StreamLimits::new(3, 2);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let a1 = limits.acquire(Some(a)).unwrap();
        let _a2 = limits.acquire(Some(a)).unwrap();
        let refused = limits.acquire(Some(a)).unwrap_err().to_string();
        assert!(refused.contains("max_streams_per_instance"), "{refused}");
        let _b1 = limits.acquire(Some(b)).unwrap();
        let refused = limits.acquire(None).unwrap_err().to_string();
        assert!(refused.contains("(web_server.max_streams)"), "{refused}");
        assert_eq!(limits.open(), 3);
        drop(a1);
        assert_eq!(limits.open(), 2);
        let _again = limits.acquire(Some(a)).unwrap();
        assert!(limits.acquire(Some(b)).is_err(), "in all: 3 open again");
    }
}
