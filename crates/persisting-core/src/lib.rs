//! persisting-core: bucketed record storage on Lance with a write-ahead log.
//!
//! Pure Rust (no N-API); `persisting-node` is a thin binding over [`store::BucketStore`].

pub mod codec;
pub mod conform;
pub mod defaults;
pub mod error;
pub mod fault;
pub mod json;
pub mod lance_io;
pub mod lease;
pub mod lock;
mod memory;
pub mod metrics;
pub mod route;
mod runtime;
pub mod store;
pub mod wal;

pub use codec::Compression;
pub use error::{Error, ErrorCode, Result};
pub use runtime::runtime;
pub use store::{BucketStore, PutAck, Stats, StoreOptions, WalOptions};
