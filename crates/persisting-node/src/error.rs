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
