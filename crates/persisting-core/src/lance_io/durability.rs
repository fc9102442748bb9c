//! Making local Lance commits durable, and measuring a bucket on disk.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lance::dataset::Dataset;
use lance_table::format::Fragment;

use crate::error::{ErrorCode, Result, ResultExt};

use super::*;

/// Makes local Lance files durable in commit order: Lance itself never fsyncs, so without this
/// a power loss could keep a manifest whose data files are gone. The data files a commit adds are
/// synced before it ([`Durability::before_commit`]); its manifest, transaction file and their
/// directories after it ([`Durability::after_commit`]). Only the files a commit names are
/// touched, so a flush costs the same on the first commit and on the millionth (a walk of the
/// dataset would grow with every version kept on disk; it runs once per process, see
/// [`Durability::after_commit`]).
///
/// On an object store (whose puts are durable) the hook checks instead that this writer still
/// holds the bucket's lease, so a writer that lost it never commits.
pub struct Durability {
    root: Option<PathBuf>,
    /// Directories whose own entry in their parent is known durable (a handful per dataset).
    dirs: Mutex<HashSet<PathBuf>>,
    /// The newest version whose files this process made durable.
    last_version: Mutex<Option<u64>>,
    lease: Option<Arc<crate::lease::Lease>>,
}

impl Durability {
    /// `uri` is the dataset URI.
    pub fn new(uri: &str, lease: Option<Arc<crate::lease::Lease>>) -> Self {
        Durability { root: local_path(uri), dirs: Mutex::new(HashSet::new()), last_version: Mutex::new(None), lease }
    }

    /// Before committing `fragments` (new, or rewritten with new files): their data files and
    /// `data/`. Our commits never add deletion files (rows are never deleted).
    pub fn before_commit(&self, fragments: &[Fragment]) -> Result<()> {
        self.ensure_owner()?;
        let Some(root) = &self.root else {
            return Ok(());
        };
        let data = root.join(DATA_DIR);
        let files = fragments
            .iter()
            .flat_map(|f| f.files.iter().chain(f.overlays.iter().map(|o| &o.data_file)).map(|d| data.join(&d.path)));
        let mut any = false;
        for file in files {
            fsync(&file).code(ErrorCode::Io, &format!("fsync of Lance data file {}", file.display()))?;
            any = true;
        }
        if any {
            self.sync_dir(&data, root)?;
        }
        Ok(())
    }

    /// For commits outside the append path (schema metadata, indexes): only the lease check.
    pub fn ensure_owner(&self) -> Result<()> {
        match &self.lease {
            Some(lease) => lease.ensure_held(),
            None => Ok(()),
        }
    }

    /// After a commit: the manifest and transaction file of every version since the last one
    /// this process made durable (one Lance call can commit more than once: compaction does),
    /// and their directories. A process's first commit fsyncs the whole dataset once instead: a
    /// writer that crashed between its commit and its fsyncs left files only in the page cache.
    pub async fn after_commit(&self, ds: &Dataset) -> Result<()> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let version = ds.version().version;
        let last = *self.last_version.lock().unwrap();
        match last {
            None => {
                fsync_tree(root).code(ErrorCode::Io, "fsync of Lance files")?;
                self.sync_dir(root, root)?;
            }
            Some(last) => {
                for v in (last + 1)..version {
                    let older = ds.checkout_version(v).await.map_err(lance_err("reading a manifest to fsync it"))?;
                    self.sync_commit(root, &older)?;
                }
                self.sync_commit(root, ds)?;
            }
        }
        *self.last_version.lock().unwrap() = Some(version);
        Ok(())
    }

    fn sync_commit(&self, root: &Path, ds: &Dataset) -> Result<()> {
        let versions = root.join(VERSIONS_DIR);
        let name = ds.manifest_location().path.filename().unwrap_or_default();
        let manifest = versions.join(name);
        fsync(&manifest).code(ErrorCode::Io, &format!("fsync of Lance manifest {}", manifest.display()))?;
        self.sync_dir(&versions, root)?;
        if let Some(txn) = ds.manifest.transaction_file.as_deref().filter(|t| !t.is_empty()) {
            let dir = root.join(TRANSACTIONS_DIR);
            let file = dir.join(txn);
            fsync(&file).code(ErrorCode::Io, &format!("fsync of Lance transaction {}", file.display()))?;
            self.sync_dir(&dir, root)?;
        }
        Ok(())
    }

    /// After committing an index (rare, and its files are many and named by the index): every
    /// file under `_indices/`, then the commit's own files.
    pub async fn after_index_commit(&self, ds: &Dataset) -> Result<()> {
        if let Some(root) = &self.root {
            let indices = root.join(INDICES_DIR);
            if indices.exists() {
                fsync_tree(&indices).code(ErrorCode::Io, "fsync of Lance index files")?;
                self.sync_dir(&indices, root)?;
            }
        }
        self.after_commit(ds).await
    }

    /// fsyncs `dir` (new entries in it), and the first time, the entries of `dir` and of its
    /// ancestors up to the dataset root in their parents (directories a first commit created).
    fn sync_dir(&self, dir: &Path, root: &Path) -> Result<()> {
        let what = |d: &Path| format!("fsync directory {}", d.display());
        fsync(dir).code(ErrorCode::Io, &what(dir))?;
        let mut known = self.dirs.lock().unwrap();
        let mut child = dir;
        while !known.contains(child) {
            let Some(parent) = child.parent().filter(|p| !p.as_os_str().is_empty()) else {
                break;
            };
            fsync(parent).code(ErrorCode::Io, &what(parent))?;
            known.insert(child.to_path_buf());
            if child == root {
                break;
            }
            child = parent;
        }
        Ok(())
    }
}

const DATA_DIR: &str = "data";
const VERSIONS_DIR: &str = "_versions";
const TRANSACTIONS_DIR: &str = "_transactions";
const INDICES_DIR: &str = "_indices";

fn fsync(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()
}

/// fsyncs every file and directory under `root`.
fn fsync_tree(root: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            fsync_tree(&entry.path())?;
        } else if ft.is_file() {
            match fsync(&entry.path()) {
                // A temporary file renamed or removed since the listing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
    }
    fsync(root)
}

pub fn disk_usage(root: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return 0;
        };
        rd.flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path()),
                Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
                Err(_) => 0,
            })
            .sum()
    }
    walk(root)
}
