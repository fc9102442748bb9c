//! An in-memory [`WalFs`](super::WalFs) that simulates power loss and injects I/O errors, in the spirit of
//! RocksDB's `FaultInjectionTestFS` and SQLite's crash VFS.
//!
//! Every file keeps two images: what the page cache shows (`data`) and what is on "disk"
//! (`durable`), plus the writes and truncations made since the last sync. Directories keep
//! their current entries and the entries as of their last fsync. [`FaultFs::power_loss`] throws
//! away what was never synced: directory entries revert to the last directory fsync (undoing
//! creations, renames and removals), and each file keeps none, a prefix, or a random subset of
//! its unsynced writes. A failed fsync behaves like Linux: the dirty data stays readable but
//! is dropped from the write-back queue, so a later "successful" fsync does not persist it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

mod handles;

/// Kinds of call that can be made to fail with [`FaultFs::fail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsOp {
    CreateDir,
    Lock,
    Create,
    Open,
    List,
    Rename,
    Remove,
    SyncDir,
    Write,
    Read,
    SetLen,
    /// `fdatasync`
    SyncData,
    /// `fsync` of a file
    SyncAll,
}

/// What a power loss keeps of each file's unsynced writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossMode {
    /// Nothing that was not synced survives.
    DropAll,
    /// The writes reached the disk in order and stopped at a random point, possibly in the
    /// middle of a write (a torn write).
    KeepPrefix,
    /// A random subset of the writes reached the disk (the page cache writes back in any order).
    RandomSubset,
}

#[derive(Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Default)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
    unsynced: Vec<Pending>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Entry {
    File(u64),
    Dir,
}

#[derive(Default)]
struct Dir {
    entries: BTreeMap<String, Entry>,
    durable: BTreeMap<String, Entry>,
}

struct Fault {
    op: FsOp,
    remaining: u64,
    errno: i32,
}

#[derive(Default)]
struct State {
    /// Bumped by every crash: handles from before it fail, as the process that held them died.
    generation: u64,
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    dirs: BTreeMap<PathBuf, Dir>,
    locks: HashSet<PathBuf>,
    faults: Vec<Fault>,
    calls: HashMap<FsOp, u64>,
    rng: u64,
}

/// The simulated file system. Clone the `Arc` into [`super::WalConfig::fs`].
#[derive(Clone)]
pub struct FaultFs {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FaultFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultFs")
    }
}

fn apply(img: &mut Vec<u8>, p: &Pending) {
    match p {
        Pending::Write { offset, data } => {
            let end = *offset as usize + data.len();
            if img.len() < end {
                img.resize(end, 0);
            }
            img[*offset as usize..end].copy_from_slice(data);
        }
        Pending::SetLen(len) => img.resize(*len as usize, 0),
    }
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let parent = path.parent().ok_or_else(|| io::Error::other("path without parent"))?;
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| io::Error::other("bad file name"))?;
    Ok((parent.to_path_buf(), name.to_string()))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

impl State {
    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Counts the call and fires an injected fault if one is due.
    fn call(&mut self, op: FsOp) -> io::Result<()> {
        *self.calls.entry(op).or_default() += 1;
        let mut fire = None;
        for (i, f) in self.faults.iter_mut().enumerate() {
            if f.op == op {
                f.remaining -= 1;
                if f.remaining == 0 {
                    fire = Some(i);
                    break;
                }
            }
        }
        match fire {
            Some(i) => Err(io::Error::from_raw_os_error(self.faults.remove(i).errno)),
            None => Ok(()),
        }
    }

    fn dir(&mut self, path: &Path) -> io::Result<&mut Dir> {
        self.dirs.get_mut(path).ok_or_else(|| not_found(path))
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let (parent, name) = split(path)?;
        match self.dirs.get(&parent).and_then(|d| d.entries.get(&name)) {
            Some(Entry::File(ino)) => Ok(*ino),
            Some(Entry::Dir) => Err(io::Error::other(format!("{} is a directory", path.display()))),
            None => Err(not_found(path)),
        }
    }

    fn sync_file(&mut self, ino: u64) {
        let node = self.inodes.get_mut(&ino).expect("inode");
        for p in std::mem::take(&mut node.unsynced) {
            apply(&mut node.durable, &p);
        }
    }

    /// A failed fsync: the unsynced writes stay visible but will never reach the disk.
    fn poison_file(&mut self, ino: u64) {
        self.inodes.get_mut(&ino).expect("inode").unsynced.clear();
    }

    fn power_loss(&mut self, mode: LossMode) {
        self.generation += 1;
        self.locks.clear();
        let inos: Vec<u64> = self.inodes.keys().copied().collect();
        for ino in inos {
            let unsynced = std::mem::take(&mut self.inodes.get_mut(&ino).unwrap().unsynced);
            let n = unsynced.len();
            let mut img = self.inodes[&ino].durable.clone();
            match mode {
                LossMode::DropAll => {}
                LossMode::KeepPrefix => {
                    let keep = (self.next_rand() % (n as u64 + 1)) as usize;
                    for p in &unsynced[..keep] {
                        apply(&mut img, p);
                    }
                    if let Some(Pending::Write { offset, data }) = unsynced.get(keep) {
                        let part = (self.next_rand() % (data.len() as u64 + 1)) as usize;
                        apply(&mut img, &Pending::Write { offset: *offset, data: data[..part].to_vec() });
                    }
                }
                LossMode::RandomSubset => {
                    for p in &unsynced {
                        if self.next_rand().is_multiple_of(2) {
                            apply(&mut img, p);
                        }
                    }
                }
            }
            let node = self.inodes.get_mut(&ino).unwrap();
            node.durable = img.clone();
            node.data = img;
        }
        for d in self.dirs.values_mut() {
            d.entries = d.durable.clone();
        }
        // Directories whose own entry was lost go, with everything in them (parents sort first).
        let paths: Vec<PathBuf> = self.dirs.keys().cloned().collect();
        let mut gone: HashSet<PathBuf> = HashSet::new();
        for p in paths {
            let Ok((parent, name)) = split(&p) else {
                continue;
            };
            let lost = gone.contains(&parent)
                || self.dirs.get(&parent).is_some_and(|d| d.entries.get(&name) != Some(&Entry::Dir));
            if lost {
                self.dirs.remove(&p);
                gone.insert(p);
            }
        }
        let live: HashSet<u64> = self
            .dirs
            .values()
            .flat_map(|d| d.entries.values())
            .filter_map(|e| match e {
                Entry::File(i) => Some(*i),
                Entry::Dir => None,
            })
            .collect();
        self.inodes.retain(|i, _| live.contains(i));
    }
}

impl Default for FaultFs {
    fn default() -> Self {
        Self::new(0x9e37_79b9_7f4a_7c15)
    }
}

impl FaultFs {
    /// An empty file system; `seed` drives the random choices of [`FaultFs::power_loss`].
    pub fn new(seed: u64) -> Self {
        let state = State { rng: seed | 1, next_ino: 1, ..State::default() };
        FaultFs { state: Arc::new(Mutex::new(state)) }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The process died: locks are released and open handles stop working, but everything
    /// written is still in the page cache.
    pub fn crash(&self) {
        let mut st = self.st();
        st.generation += 1;
        st.locks.clear();
    }

    /// An independent copy of the whole file system as it is now, as seen by a new process
    /// (no locks, no open handles, no pending faults). Power-loss tests fork at every step.
    pub fn fork(&self, seed: u64) -> FaultFs {
        let st = self.st();
        let inodes = st
            .inodes
            .iter()
            .map(|(i, n)| {
                (*i, Inode { data: n.data.clone(), durable: n.durable.clone(), unsynced: n.unsynced.clone() })
            })
            .collect();
        let dirs = st
            .dirs
            .iter()
            .map(|(p, d)| (p.clone(), Dir { entries: d.entries.clone(), durable: d.durable.clone() }))
            .collect();
        let copy = State { inodes, dirs, next_ino: st.next_ino, rng: seed | 1, ..State::default() };
        FaultFs { state: Arc::new(Mutex::new(copy)) }
    }

    /// The machine lost power: see the module docs. Also a [`FaultFs::crash`].
    pub fn power_loss(&self, mode: LossMode) {
        self.st().power_loss(mode);
    }

    /// Makes the `nth` (1-based, counted from now) call of `op` fail with `errno`
    /// (`libc::EIO`, `libc::ENOSPC`, ...). A failing write first writes half its buffer.
    pub fn fail(&self, op: FsOp, nth: u64, errno: i32) {
        self.st().faults.push(Fault { op, remaining: nth.max(1), errno });
    }

    /// Removes injected faults that have not fired.
    pub fn clear_faults(&self) {
        self.st().faults.clear();
    }

    /// How many calls of `op` were made.
    pub fn calls(&self, op: FsOp) -> u64 {
        self.st().calls.get(&op).copied().unwrap_or(0)
    }

    /// Creates a directory (and its ancestors) as if it had existed durably for a long time.
    pub fn durable_dir(&self, path: &Path) {
        let mut st = self.st();
        for p in path.ancestors().collect::<Vec<_>>().into_iter().rev() {
            st.dirs.entry(p.to_path_buf()).or_default();
            if let Ok((parent, name)) = split(p) {
                let d = st.dirs.get_mut(&parent).unwrap();
                d.entries.insert(name.clone(), Entry::Dir);
                d.durable.insert(name, Entry::Dir);
            }
        }
    }

    /// Writes a file and makes it and its directory entry durable (test set-up).
    pub fn put_file(&self, path: &Path, bytes: &[u8]) {
        let (parent, name) = split(path).expect("file path");
        self.durable_dir(&parent);
        let mut st = self.st();
        let ino = st.next_ino;
        st.next_ino += 1;
        st.inodes.insert(ino, Inode { data: bytes.to_vec(), durable: bytes.to_vec(), unsynced: Vec::new() });
        let d = st.dirs.get_mut(&parent).unwrap();
        d.entries.insert(name.clone(), Entry::File(ino));
        d.durable.insert(name, Entry::File(ino));
    }

    /// Current contents of a file (what a read would return), if it exists.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.st();
        let ino = st.lookup(path).ok()?;
        Some(st.inodes[&ino].data.clone())
    }

    /// Names in a directory (current view), sorted.
    pub fn list_dir(&self, dir: &Path) -> Vec<String> {
        self.st().dirs.get(dir).map(|d| d.entries.keys().cloned().collect()).unwrap_or_default()
    }

    /// True when the file's contents and its directory entry would both survive a power loss
    /// exactly as they are now.
    pub fn is_durable(&self, path: &Path) -> bool {
        let st = self.st();
        let Ok(ino) = st.lookup(path) else {
            return false;
        };
        let (parent, name) = split(path).unwrap();
        let node = &st.inodes[&ino];
        node.unsynced.is_empty()
            && node.data == node.durable
            && st.dirs[&parent].durable.get(&name) == Some(&Entry::File(ino))
    }
}
