//! Typed errors across the binding. Every error the binding throws or rejects with is a JS
//! `Error` whose `.code` is the core's code string (`'WAL_LOCKED'`, `'INVALID_OPTION'`, ...)
//! and whose `.message` is the core message followed by its cause chain (no `[CODE]` prefix);
//! `src/errors.ts` turns it into a StorageError / WALError by `.code`.
//!
//! Synchronous functions return `napi::Error<ErrorCode>`: napi creates the JS error with
//! `napi_create_error(code, message)`, which sets `.code` to the status string. Promises are
//! different: napi's future and task paths only carry `napi::Error<Status>`, whose status would
//! become `.code = 'GenericFailure'`. Async results therefore cross as [`Coded`]: its conversion
//! runs on the JS thread, builds the coded JS error there and hands napi a reference to it,
//! which napi rejects the promise with unchanged.

use napi::bindgen_prelude::{ToNapiValue, TypeName, Unknown};
use napi::{sys, JsError, ValueType};
use napi_derive::napi;
use persisting_core::{Error as CoreError, ErrorCode};

/// The error every binding function fails with: `.code` is a core code string.
pub type CodedError = napi::Error<ErrorCode>;
pub type Result<T> = std::result::Result<T, CodedError>;

/// The core error's code, and its message with every cause (as LanceDB's binding keeps the chain).
pub fn to_napi(e: CoreError) -> CodedError {
    napi::Error::new(e.code, e.full_message())
}

pub fn invalid_option(message: impl ToString) -> CodedError {
    napi::Error::new(ErrorCode::InvalidOption, message)
}

pub fn invalid_record(message: impl ToString) -> CodedError {
    napi::Error::new(ErrorCode::InvalidRecord, message)
}

pub fn internal(message: impl ToString) -> CodedError {
    napi::Error::new(ErrorCode::Internal, message)
}

pub trait IntoNapi<T> {
    fn napi(self) -> Result<T>;
}

impl<T> IntoNapi<T> for std::result::Result<T, CoreError> {
    fn napi(self) -> Result<T> {
        self.map_err(to_napi)
    }
}

pub fn join_error(e: tokio::task::JoinError) -> CodedError {
    internal(format!("background task failed: {e}"))
}

/// Runs core code so that a panic becomes an `INTERNAL` error instead of aborting Node.
/// A panic leaves nothing half-updated that a later call relies on: the store's locks recover
/// from poisoning or turn it into another `INTERNAL` error.
pub fn guard<T>(f: impl FnOnce() -> std::result::Result<T, CoreError>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r.napi(),
        Err(payload) => Err(panic_error(payload)),
    }
}

pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> CodedError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    internal(format!("the native core panicked: {what}"))
}

/// The result of an async binding call. Resolves with `T`; an error becomes a rejection with
/// the coded JS error (see the module docs for why a promise needs this).
pub struct Coded<T>(pub Result<T>);

impl<T> From<Result<T>> for Coded<T> {
    fn from(r: Result<T>) -> Self {
        Coded(r)
    }
}

impl<T: ToNapiValue> ToNapiValue for Coded<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            Ok(v) => unsafe { T::to_napi_value(env, v) },
            // On the JS thread: build the error with its code and reject with that very object
            // (napi reuses the JS value an `Error` made from an `Unknown` refers to).
            Err(e) => Err(unsafe { referenced(env, e) }),
        }
    }
}

impl<T: TypeName> TypeName for Coded<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }

    fn value_type() -> ValueType {
        T::value_type()
    }
}

/// A `napi::Error` that refers to a JS error carrying `e`'s code.
///
/// # Safety
/// `env` must be the live environment of the calling (JS) thread.
pub unsafe fn referenced(env: sys::napi_env, e: CodedError) -> napi::Error {
    let value = unsafe { JsError::from(e).into_value(env) };
    if value.is_null() {
        // The environment is tearing down: nothing can receive the error anyway.
        return napi::Error::from_reason("the environment is shutting down");
    }
    napi::Error::from(unsafe { Unknown::from_raw_unchecked(env, value) })
}

/// Every error code the core can raise: the `code` of a StorageError that came from the native
/// core is one of these (src/errors.ts lists them, plus codes only TypeScript raises).
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect()
}
