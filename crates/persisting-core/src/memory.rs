//! The allocator policy of a process that moves tens of MB per flush across threads.

/// Buffers, decoded batches and compaction move tens of MB at a time across threads. glibc's
/// adaptive mmap threshold lets such blocks settle in per-thread arenas that keep their peak
/// forever, so RSS ratchets up with every compaction. A fixed 4 MiB threshold sends big blocks
/// to mmap, which returns them to the OS when freed.
pub(crate) fn bound_allocator_retention() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Compaction allocates and frees hundreds of MB across several threads' malloc arenas; glibc
/// keeps those pages unless asked. Hands them back to the OS.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}
