//! The bucket's writer lock: an exclusive `flock` on `<storagePath>/LOCK`, taken before the
//! dataset is read, so a second writer (this process or another) can never start from a row
//! count the first is about to change. Released on drop or when the process dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorCode, Result};

pub const LOCK_FILE: &str = "LOCK";

pub struct BucketLock {
    file: File,
    path: PathBuf,
}

impl BucketLock {
    /// `code` is what a second writer sees: `WalLocked` when the bucket has a WAL, else `Locked`.
    pub fn acquire(dir: &Path, code: ErrorCode) -> Result<BucketLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::with_source(ErrorCode::Io, format!("open bucket lock {}", path.display()), e))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => {}
            Ok(false) => return Err(held(&path, code)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(held(&path, code)),
            Err(e) => return Err(Error::with_source(ErrorCode::Io, format!("lock bucket {}", path.display()), e)),
        }
        // Diagnostics only: which process holds it.
        let _ = file.set_len(0).and_then(|_| file.write_all_at(std::process::id().to_string().as_bytes(), 0));
        Ok(BucketLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BucketLock {
    fn drop(&mut self) {
        let _ = fs4::fs_std::FileExt::unlock(&self.file);
    }
}

fn held(path: &Path, code: ErrorCode) -> Error {
    let holder = std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let by = holder.map(|pid| format!(" (held by pid {pid})")).unwrap_or_default();
    Error::new(
        code,
        format!(
            "bucket {} already has a writer{by}, in this or another process; a bucket has at most one \
             writer at a time (close it first, or open this one with readOnly: true)",
            path.parent().unwrap_or(path).display()
        ),
    )
}

/// Creates `dir` (and missing parents) and makes each new directory entry durable, so a power
/// loss cannot drop a bucket whose files were fsynced.
pub fn create_dir_durable(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || d.is_dir() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::with_source(ErrorCode::Io, format!("create directory {}", dir.display()), e))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsync_dir(parent)?;
        }
    }
    Ok(())
}

pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::with_source(ErrorCode::Io, format!("fsync directory {}", dir.display()), e))
}
