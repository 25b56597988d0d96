//! Gives memory freed after start-up back to the system.
//!
//! Loading a large config peaks far above what is kept: the toml crate lexes the whole file into
//! token and event vectors several times its size (about 30 MB for 10,000 profiles, to keep 5).
//! glibc's allocator keeps such freed memory mapped in the middle of its heap, where it counts
//! as resident for as long as the dashboard runs; `malloc_trim` returns those free pages.

/// Returns free heap pages to the system. Cheap enough to call once after loading; a no-op
/// where the allocator is not glibc's.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it touches no live
    // allocation and takes the allocator's locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}
