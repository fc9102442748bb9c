//! The process-wide tokio runtime of the core (see "Runtimes" in docs/design.md).

use std::sync::OnceLock;

/// The runtime every store uses for Lance I/O and background flushes, independent of the
/// caller's (N-API threads are not tokio threads).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        crate::memory::bound_allocator_retention();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("persisting-io")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}
