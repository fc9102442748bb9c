#![recursion_limit = "512"]
//! N-API binding of persisting-core. Thin on purpose: option parsing, error mapping, and
//! moving JSON text across; all behaviour lives in the core. One file per TypeScript module.

mod arrow;
mod error;
mod faults;
mod metrics;
mod options;
mod routing;
mod store;
