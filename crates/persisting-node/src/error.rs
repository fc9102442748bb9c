//! Core errors cross as `[CODE] message: cause: cause`; `src/errors.ts` rebuilds the typed
//! StorageError / WALError from that prefix, so the code survives and the chain is kept.

use persisting_core::Error as CoreError;

pub trait IntoNapi<T> {
    fn napi(self) -> napi::Result<T>;
}

impl<T> IntoNapi<T> for Result<T, CoreError> {
    fn napi(self) -> napi::Result<T> {
        self.map_err(to_napi)
    }
}

pub fn to_napi(e: CoreError) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("[{}] {}", e.code.as_str(), e.full_message()))
}

pub fn join_error(e: tokio::task::JoinError) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("[INTERNAL] background task failed: {e}"))
}

/// Runs core code so that a panic becomes an `INTERNAL` error instead of aborting Node.
/// A panic leaves nothing half-updated that a later call relies on: the store's locks recover
/// from poisoning or turn it into another `INTERNAL` error.
pub fn guard<T>(f: impl FnOnce() -> Result<T, CoreError>) -> napi::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.napi(),
        Err(payload) => Err(panic_error(payload)),
    }
}

pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> napi::Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    napi::Error::new(napi::Status::GenericFailure, format!("[INTERNAL] the native core panicked: {what}"))
}
