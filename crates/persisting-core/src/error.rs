//! Errors carry a stable string code (mirrored by the TypeScript `StorageError.code`)
//! plus the chain of causes, so nothing is flattened into an anonymous string.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRecord,
    InvalidOption,
    SchemaMismatch,
    ReadOnly,
    NotFound,
    Closed,
    Io,
    Lance,
    WalCorrupt,
    WalLocked,
    WalIo,
    /// Another writer holds the bucket (WAL off; with the WAL on it is `WalLocked`).
    Locked,
    /// An earlier I/O error stopped the bucket; reopen it to reconcile from disk.
    BucketFailed,
    /// A queue record lacks its topic's bucket column (raised by NDJSON routing).
    MissingBucketColumn,
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order (the binding exposes them as `errorCodes()`).
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::InvalidRecord,
        ErrorCode::InvalidOption,
        ErrorCode::SchemaMismatch,
        ErrorCode::ReadOnly,
        ErrorCode::NotFound,
        ErrorCode::Closed,
        ErrorCode::Io,
        ErrorCode::Lance,
        ErrorCode::WalCorrupt,
        ErrorCode::WalLocked,
        ErrorCode::WalIo,
        ErrorCode::Locked,
        ErrorCode::BucketFailed,
        ErrorCode::MissingBucketColumn,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRecord => "INVALID_RECORD",
            ErrorCode::InvalidOption => "INVALID_OPTION",
            ErrorCode::SchemaMismatch => "SCHEMA_MISMATCH",
            ErrorCode::ReadOnly => "READ_ONLY",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Io => "IO",
            ErrorCode::Lance => "LANCE",
            ErrorCode::WalCorrupt => "WAL_CORRUPT",
            ErrorCode::WalLocked => "WAL_LOCKED",
            ErrorCode::WalIo => "WAL_IO",
            ErrorCode::Locked => "LOCKED",
            ErrorCode::BucketFailed => "BUCKET_FAILED",
            ErrorCode::MissingBucketColumn => "MISSING_BUCKET_COLUMN",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    pub fn is_wal(self) -> bool {
        matches!(self, ErrorCode::WalCorrupt | ErrorCode::WalLocked | ErrorCode::WalIo)
    }
}

/// The code string, so an `ErrorCode` can be the status of a typed N-API error.
impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), source: None }
    }

    pub fn with_source(
        code: ErrorCode,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error { code, message: message.into(), source: Some(Box::new(source)) }
    }

    pub fn invalid_record(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRecord, message)
    }
    pub fn invalid_option(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidOption, message)
    }
    pub fn schema(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SchemaMismatch, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Message followed by every cause, for callers that only show one line.
    pub fn full_message(&self) -> String {
        let mut out = self.message.clone();
        let mut cur: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_ref().map(|s| s.as_ref() as &(dyn std::error::Error + 'static));
        while let Some(e) = cur {
            out.push_str(": ");
            out.push_str(&e.to_string());
            cur = e.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// Attach a code and context to foreign errors while keeping them as the cause.
pub trait ResultExt<T> {
    fn code(self, code: ErrorCode, context: &str) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> ResultExt<T> for std::result::Result<T, E> {
    fn code(self, code: ErrorCode, context: &str) -> Result<T> {
        self.map_err(|e| Error::with_source(code, context.to_string(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// `ALL` lists every variant once, in order (the last variant closes the range).
    #[test]
    fn all_lists_every_code_once() {
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{}", c.as_str());
        }
        assert_eq!(ErrorCode::Internal as usize, ErrorCode::ALL.len() - 1);
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }
}
