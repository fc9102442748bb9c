//! The simulated file system's handles: the [`WalFs`] implementation, open files and locks.

use std::any::Any;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{apply, not_found, split, Dir, Entry, FaultFs, FsOp, Inode, Pending, State};
use crate::wal::fs::{WalFile, WalFs};

struct LockGuard {
    state: Arc<Mutex<State>>,
    path: PathBuf,
    generation: u64,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.generation == self.generation {
            st.locks.remove(&self.path);
        }
    }
}

impl WalFs for FaultFs {
    fn is_dir(&self, path: &Path) -> bool {
        self.st().dirs.contains_key(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.st();
        st.call(FsOp::CreateDir)?;
        let missing: Vec<&Path> = path.ancestors().take_while(|a| !st.dirs.contains_key(*a)).collect();
        for p in missing.into_iter().rev() {
            if p.as_os_str().is_empty() {
                continue;
            }
            st.dirs.insert(p.to_path_buf(), Dir::default());
            if let Ok((parent, name)) = split(p) {
                // Without a simulated parent it is the top of the tree, which always exists.
                if let Some(d) = st.dirs.get_mut(&parent) {
                    d.entries.insert(name, Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn Any + Send + Sync>>> {
        let mut st = self.st();
        st.call(FsOp::Lock)?;
        if st.lookup(path).is_err() {
            let (parent, name) = split(path)?;
            let ino = st.next_ino;
            st.next_ino += 1;
            st.inodes.insert(ino, Inode::default());
            st.dir(&parent)?.entries.insert(name, Entry::File(ino));
        }
        if !st.locks.insert(path.to_path_buf()) {
            return Ok(None);
        }
        let guard = LockGuard { state: self.state.clone(), path: path.to_path_buf(), generation: st.generation };
        Ok(Some(Box::new(guard)))
    }

    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let mut st = self.st();
        st.call(FsOp::Create)?;
        let (parent, name) = split(path)?;
        if st.dir(&parent)?.entries.contains_key(&name) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", path.display())));
        }
        let ino = st.next_ino;
        st.next_ino += 1;
        st.inodes.insert(ino, Inode::default());
        st.dir(&parent)?.entries.insert(name, Entry::File(ino));
        Ok(Arc::new(FaultFile { state: self.state.clone(), ino, generation: st.generation }))
    }

    fn open(&self, path: &Path) -> io::Result<Arc<dyn WalFile>> {
        let mut st = self.st();
        st.call(FsOp::Open)?;
        let ino = st.lookup(path)?;
        Ok(Arc::new(FaultFile { state: self.state.clone(), ino, generation: st.generation }))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut st = self.st();
        st.call(FsOp::List)?;
        Ok(st.dir(dir)?.entries.keys().cloned().collect())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.st();
        st.call(FsOp::Rename)?;
        let (fp, fname) = split(from)?;
        let (tp, tname) = split(to)?;
        st.dir(&tp)?;
        let e = st.dir(&fp)?.entries.remove(&fname).ok_or_else(|| not_found(from))?;
        st.dir(&tp)?.entries.insert(tname, e);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.st();
        st.call(FsOp::Remove)?;
        st.lookup(path)?;
        let (parent, name) = split(path)?;
        st.dir(&parent)?.entries.remove(&name);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.st();
        st.call(FsOp::SyncDir)?;
        let d = st.dir(dir)?;
        d.durable = d.entries.clone();
        Ok(())
    }
}

struct FaultFile {
    state: Arc<Mutex<State>>,
    ino: u64,
    generation: u64,
}

impl FaultFile {
    fn st(&self, op: FsOp) -> io::Result<MutexGuard<'_, State>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.generation != self.generation {
            return Err(io::Error::other("file handle from before a simulated crash"));
        }
        st.call(op)?;
        Ok(st)
    }
}

impl WalFile for FaultFile {
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.generation != self.generation {
            return Err(io::Error::other("file handle from before a simulated crash"));
        }
        let (res, data) = match st.call(FsOp::Write) {
            Ok(()) => (Ok(()), buf),
            Err(e) => (Err(e), &buf[..buf.len() / 2]),
        };
        let node = st.inodes.get_mut(&self.ino).expect("inode");
        let p = Pending::Write { offset, data: data.to_vec() };
        apply(&mut node.data, &p);
        node.unsynced.push(p);
        res
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let st = self.st(FsOp::Read)?;
        let data = &st.inodes[&self.ino].data;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn len(&self) -> io::Result<u64> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Ok(st.inodes[&self.ino].data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.st(FsOp::SetLen)?;
        let node = st.inodes.get_mut(&self.ino).expect("inode");
        let p = Pending::SetLen(len);
        apply(&mut node.data, &p);
        node.unsynced.push(p);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.generation != self.generation {
            return Err(io::Error::other("file handle from before a simulated crash"));
        }
        match st.call(FsOp::SyncData) {
            Ok(()) => {
                st.sync_file(self.ino);
                Ok(())
            }
            Err(e) => {
                st.poison_file(self.ino);
                Err(e)
            }
        }
    }

    fn sync_all(&self) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.generation != self.generation {
            return Err(io::Error::other("file handle from before a simulated crash"));
        }
        match st.call(FsOp::SyncAll) {
            Ok(()) => {
                st.sync_file(self.ino);
                Ok(())
            }
            Err(e) => {
                st.poison_file(self.ino);
                Err(e)
            }
        }
    }
}
