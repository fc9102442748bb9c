//! The file-system calls the WAL makes, behind a trait so tests can simulate power loss and
//! I/O errors ([`super::fault_fs`]). [`OsFs`] is the real thing: every method is the one
//! system call it names, so the append path stays one `pwrite` under the writer mutex.

use std::any::Any;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Directory operations of the WAL. Paths are absolute or relative to the process cwd.
pub trait WalFs: fmt::Debug + Send + Sync {
    fn is_dir(&self, path: &Path) -> bool;
    /// `mkdir -p`.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates `path` if needed and takes an exclusive lock on it. `Ok(None)`: someone else
    /// holds it. The lock lasts as long as the returned guard.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn Any + Send + Sync>>>;
    /// Who holds the lock at `path`, for the error message (best effort).
    fn lock_holder(&self, _path: &Path) -> Option<String> {
        None
    }
    /// Creates a new, empty file (fails if it exists), open for reading and writing.
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Opens an existing file for reading and writing.
    fn open(&self, path: &Path) -> io::Result<Arc<dyn WalFile>>;
    /// Names of the entries of a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// `fsync` of a directory: makes creations, renames and removals in it durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// An open segment file.
#[allow(clippy::len_without_is_empty)]
pub trait WalFile: Send + Sync {
    /// `pwrite` of the whole buffer (retrying short writes).
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// `pread`; returns 0 at end of file.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    fn len(&self) -> io::Result<u64>;
    /// `ftruncate`.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync`.
    fn sync_data(&self) -> io::Result<()>;
    /// `fsync`.
    fn sync_all(&self) -> io::Result<()>;
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

impl OsFs {
    pub fn shared() -> Arc<dyn WalFs> {
        Arc::new(OsFs)
    }
}

impl WalFs for OsFs {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn Any + Send + Sync>>> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        // A child process forked by another thread holds a copy of every open file description,
        // including that of a lock closed a moment ago, until it execs. A short retry keeps such
        // a child from making a close-then-reopen fail.
        let mut tries = 0;
        loop {
            match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            tries += 1;
            if tries == 20 {
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Diagnostics only: which process holds the lock.
        let _ = File::set_len(&file, 0)
            .and_then(|_| FileExt::write_all_at(&file, std::process::id().to_string().as_bytes(), 0));
        // Closing the file releases the flock.
        Ok(Some(Box::new(file)))
    }

    fn lock_holder(&self, path: &Path) -> Option<String> {
        fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }

    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(path)?;
        Ok(Arc::new(file))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Arc::new(file))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

impl WalFile for File {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, buf, offset)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        FileExt::read_at(self, buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn sync_all(&self) -> io::Result<()> {
        File::sync_all(self)
    }
}

/// `Read` over a [`WalFile`] from a position, for a `BufReader` during recovery.
pub(super) struct ReadAt<'a> {
    pub file: &'a dyn WalFile,
    pub pos: u64,
}

impl io::Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}
