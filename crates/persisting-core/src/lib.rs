//! persisting-core: bucketed record storage on Lance with a write-ahead log.
//!
//! Pure Rust (no N-API); `persisting-node` is a thin binding over [`store::BucketStore`].

pub mod codec;
pub mod conform;
pub mod error;
pub mod fault;
pub mod json;
pub mod lance_io;
pub mod lock;
mod memory;
pub mod metrics;
pub mod store;
pub mod wal;

pub use codec::Compression;
pub use error::{Error, ErrorCode, Result};
pub use store::{BucketStore, PutAck, Stats, StoreOptions, WalOptions};

use std::sync::OnceLock;

/// The runtime every store uses for Lance I/O and background flushes, independent of the
/// caller's (N-API threads are not tokio threads).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        memory::bound_allocator_retention();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("persisting-io")
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}
