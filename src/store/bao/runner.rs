//! The team store's own thread and async runtime.
//!
//! [`TokenStore`](crate::store::TokenStore) is synchronous (the file store blocks on a disk) and
//! its callers are async code: a command's single runtime thread (`DiskWork::Inline`) or tokio's
//! blocking threads. The team store needs async HTTP (the one `reqwest` stack tokdash has), and
//! `block_on` inside a runtime thread panics. So the store runs its requests here, on a
//! current-thread runtime of its own on a dedicated thread, and a sync call hands its future over
//! and waits on a plain channel. The caller's thread may block, but nothing it waits for ever
//! needs that thread: no deadlock, whichever runtime (if any) the caller is on. Lease renewals
//! and releases run here too, after the call that started them has returned.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;

pub struct Runner {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Work that must finish before the process ends (a lease's release): waited for on drop.
    pending: Mutex<Vec<JoinHandle<()>>>,
    /// How long the drop waits for pending work: a request's timeout.
    drain: Duration,
}

/// The store thread has gone (it never does while the [`Runner`] lives, unless a task panicked).
#[derive(Debug)]
pub struct Gone;

impl Runner {
    pub fn start(drain: Duration) -> std::io::Result<Runner> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tokdash-store".into())
            .spawn(move || {
                // Drives every task spawned through `handle` until the runner is dropped.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Runner {
            handle,
            stop: Some(stop),
            thread: Some(thread),
            pending: Mutex::new(Vec::new()),
            drain,
        })
    }

    /// Runs `work` on the store thread and waits for its result. Never call it from the store
    /// thread itself (a task of this runtime), which would wait for itself.
    pub fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, Gone> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().map_err(|_| Gone)
    }

    /// Starts `work` on the store thread without waiting for it.
    pub fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> JoinHandle<T> {
        self.handle.spawn(work)
    }

    /// Work the process must not end without (up to the drain time): a lease's release.
    pub fn keep(&self, task: JoinHandle<()>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|t| !t.is_finished());
        pending.push(task);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let pending: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if !pending.is_empty() {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            self.handle.spawn(async move {
                for task in pending {
                    let _ = task.await;
                }
                let _ = tx.send(());
            });
            // Bounded: a server that stopped answering must not hold the process forever; a
            // lease left behind is free again after lock_ttl.
            let _ = rx.recv_timeout(self.drain);
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
