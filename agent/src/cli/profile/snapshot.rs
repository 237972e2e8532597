//! SIGUSR1 during a recording: write the profile so far and keep recording (a pod's profile
//! without deleting the pod).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

pub(super) struct Request {
    flag: Arc<AtomicBool>,
    id: Option<signal_hook_registry::SigId>,
}

impl Request {
    /// From now on SIGUSR1 (whose default action would end sysaudit) asks for a snapshot.
    pub(super) fn listen() -> std::io::Result<Request> {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        // SAFETY: the handler only stores to an atomic.
        let id = unsafe {
            signal_hook_registry::register(libc::SIGUSR1, move || f.store(true, Ordering::SeqCst))
        }?;
        Ok(Request { flag, id: Some(id) })
    }

    pub(super) fn asked(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Whether one was asked for since the last call.
    pub(super) fn take(&self) -> bool {
        self.flag.swap(false, Ordering::SeqCst)
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            signal_hook_registry::unregister(id);
        }
    }
}
