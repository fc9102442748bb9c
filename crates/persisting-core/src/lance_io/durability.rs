//! Making local Lance commits durable, and measuring a bucket on disk.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{ErrorCode, Result, ResultExt};

use super::*;

/// Makes local Lance files durable in commit order: Lance itself never fsyncs, so without this
/// a power loss could keep a manifest whose data files are gone. New data files are synced
/// before the commit that names them ([`Durability::before_commit`]) and the manifest,
/// transaction file and directories after it ([`Durability::after_commit`]).
///
/// On an object store (whose puts are durable) the hook checks instead that this writer still
/// holds the bucket's lease, so a writer that lost it never commits.
pub struct Durability {
    root: Option<PathBuf>,
    synced: Mutex<HashSet<PathBuf>>,
    lease: Option<Arc<crate::lease::Lease>>,
}

impl Durability {
    /// `uri` is the dataset URI.
    pub fn new(uri: &str, lease: Option<Arc<crate::lease::Lease>>) -> Self {
        Durability { root: local_path(uri), synced: Mutex::new(HashSet::new()), lease }
    }

    pub fn before_commit(&self) -> Result<()> {
        if let Some(lease) = &self.lease {
            lease.ensure_held()?;
        }
        match &self.root {
            Some(root) => fsync_tree(&root.join("data"), &mut self.synced.lock().unwrap()),
            None => Ok(()),
        }
    }

    /// For commits outside the append path (schema metadata, indexes): only the lease check.
    pub fn ensure_owner(&self) -> Result<()> {
        match &self.lease {
            Some(lease) => lease.ensure_held(),
            None => Ok(()),
        }
    }

    pub fn after_commit(&self) -> Result<()> {
        match &self.root {
            Some(root) => fsync_tree(root, &mut self.synced.lock().unwrap()),
            None => Ok(()),
        }
    }
}

/// Lance writes and renames without fsync on local disk; before the WAL is dropped the new
/// data, transaction and manifest files and their directories must be on stable storage.
pub fn fsync_tree(root: &Path, synced: &mut HashSet<PathBuf>) -> Result<()> {
    fn walk(dir: &Path, synced: &mut HashSet<PathBuf>) -> std::io::Result<()> {
        let mut touched = false;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                walk(&path, synced)?;
            } else if ft.is_file() && !synced.contains(&path) {
                std::fs::File::open(&path)?.sync_all()?;
                synced.insert(path);
                touched = true;
            }
        }
        if touched || !synced.contains(dir) {
            std::fs::File::open(dir)?.sync_all()?;
            synced.insert(dir.to_path_buf());
        }
        Ok(())
    }
    if !root.exists() {
        return Ok(());
    }
    // The root's own entry in its parent needs one fsync of the parent, not one per commit.
    let first = !synced.contains(root);
    walk(root, synced).code(ErrorCode::Io, "fsync of Lance files")?;
    if let Some(parent) = root.parent().filter(|p| first && !p.as_os_str().is_empty()) {
        if let Err(e) = std::fs::File::open(parent).and_then(|f| f.sync_all()) {
            synced.remove(root); // so the next commit fsyncs the parent again
            return Err(e).code(ErrorCode::Io, &format!("fsync directory {}", parent.display()));
        }
    }
    Ok(())
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
