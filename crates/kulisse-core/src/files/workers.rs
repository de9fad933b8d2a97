//! A fixed pool of threads for CPU work (making thumbs). At most its size of jobs run at
//! once, and what their allocations leave behind stays in that many threads' heaps however
//! many jobs run over time: on tokio's blocking pool a burst of thumbs would spread its
//! decoded images over up to 512 threads, each keeping pages in its own heap (mimalloc,
//! like most allocators, keeps a heap per thread).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The pool; its threads end when it is dropped.
pub(crate) struct Workers {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Workers {
    /// `n` threads (at least one) named `name-i`.
    pub(crate) fn new(n: usize, name: &str) -> Workers {
        let (send, receive) = mpsc::channel::<Job>();
        let receive = Arc::new(Mutex::new(receive));
        for i in 0..n.max(1) {
            let receive = Arc::clone(&receive);
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    loop {
                        let job = match receive.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A job that panics loses its answer, not the thread.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start a worker thread");
            }
        }
        Workers {
            jobs: Mutex::new(send),
        }
    }

    /// Runs `f` on the pool once a thread is free; `None` if it panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(f());
        });
        self.jobs.lock().ok()?.send(job).ok()?;
        answered.await.ok()
    }
}
