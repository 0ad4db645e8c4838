//! File seals (`fcntl(2)` `F_ADD_SEALS`/`F_GET_SEALS`): what a sealed file refuses.
//!
//! Only memfd files (`memfd_create(2)`, `syscalls/memfd.rs`) can be sealed. Their seals live
//! with their pages in [`tmpfs`](super::tmpfs), which asks [`Seals`] before every write,
//! size change, `fallocate` and new `MAP_SHARED` mapping, under the filesystem's lock (so a
//! seal added and a write racing it are ordered). The errnos are Linux's (`mm/memfd.c`,
//! `mm/shmem.c`):
//! - `F_SEAL_WRITE` and `F_SEAL_FUTURE_WRITE`: writes and hole punching fail with EPERM, and
//!   so does a new writable `MAP_SHARED` mapping; a read-only one can't be made writable by
//!   `mprotect` (EACCES). `F_SEAL_WRITE` can't be added while a writable shared mapping
//!   exists (EBUSY; a `PROT_READ` one of a writable fd counts, as on Linux); existing
//!   mappings keep writing under `F_SEAL_FUTURE_WRITE`.
//! - `F_SEAL_SHRINK`/`F_SEAL_GROW`: a size change that way fails with EPERM; under
//!   `F_SEAL_GROW` a write stops at the last page boundary inside the file, as Linux's
//!   page-at-a-time writes do (EPERM when no byte can go).
//! - `F_SEAL_SEAL`: no more seals (EPERM). Added to an executable file, `F_SEAL_EXEC` brings
//!   the write, grow and shrink seals with it.
//!
//! Deviation from Linux: other tmpfs files can't be sealed (EINVAL), where Linux's tmpfs files
//! report `F_SEAL_SEAL`; `F_SEAL_EXEC` is recorded, but `fchmod` doesn't reach memfd files.

use snare_abi::file::seal::{
    F_SEAL_EXEC, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_WRITE,
};
use snare_abi::Errno;

const PAGE: u64 = 4096;

/// The seals of a file; `None` for a file that can't be sealed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seals(Option<u32>);

impl Seals {
    /// A sealable file's, starting with `seals`.
    pub fn sealable(seals: u32) -> Seals {
        Seals(Some(seals))
    }

    /// `F_GET_SEALS`: EINVAL for a file that can't be sealed.
    pub fn get(&self) -> Result<u32, Errno> {
        self.0.ok_or(Errno::EINVAL)
    }

    fn has(&self, seals: u32) -> bool {
        self.0.is_some_and(|s| s & seals != 0)
    }

    fn write_sealed(&self) -> bool {
        self.has(F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)
    }

    /// `F_ADD_SEALS` (the bits are known ones, the caller checked) on a file of `mode` with
    /// `writable_maps` writable shared mappings.
    pub fn add(&mut self, seals: u32, mode: u32, writable_maps: u64) -> Result<(), Errno> {
        let cur = self.get()?;
        if cur & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        let mut seals = seals;
        if seals & F_SEAL_EXEC != 0 && mode & 0o111 != 0 {
            seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
        }
        if seals & F_SEAL_WRITE != 0 && cur & F_SEAL_WRITE == 0 && writable_maps > 0 {
            return Err(Errno::EBUSY);
        }
        self.0 = Some(cur | seals);
        Ok(())
    }

    /// How many of the `len > 0` bytes a write at `off` into a file of `size` bytes may
    /// write: all, or (under `F_SEAL_GROW`) those up to the last page boundary inside the
    /// file; EPERM when none may.
    pub fn writable(&self, off: u64, len: u64, size: u64) -> Result<u64, Errno> {
        if self.write_sealed() {
            return Err(Errno::EPERM);
        }
        let end = off.saturating_add(len);
        if !self.has(F_SEAL_GROW) || end <= size {
            return Ok(len);
        }
        let last = size / PAGE * PAGE;
        if last > off {
            Ok(last - off)
        } else {
            Err(Errno::EPERM)
        }
    }

    /// A size change from `old` to `new` bytes (`ftruncate`, `O_TRUNC`).
    pub fn resize(&self, old: u64, new: u64) -> Result<(), Errno> {
        if (new < old && self.has(F_SEAL_SHRINK)) || (new > old && self.has(F_SEAL_GROW)) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// `fallocate` up to `end` of a file of `size` bytes; `punch` for modes that change the
    /// contents (hole punching, zeroing).
    pub fn allocate(&self, punch: bool, end: u64, size: u64) -> Result<(), Errno> {
        if punch && self.write_sealed() {
            return Err(Errno::EPERM);
        }
        if end > size && self.has(F_SEAL_GROW) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// A new `MAP_SHARED` mapping, writable now if `write`: EPERM for a writable one of a
    /// write-sealed file; otherwise whether it may ever become writable (a read-only one of a
    /// write-sealed file may not).
    pub fn shared_mapping(&self, write: bool) -> Result<bool, Errno> {
        match (self.write_sealed(), write) {
            (true, true) => Err(Errno::EPERM),
            (true, false) => Ok(false),
            (false, _) => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsealable_files() {
        let mut s = Seals::default();
        assert_eq!(s.get(), Err(Errno::EINVAL));
        assert_eq!(s.add(F_SEAL_GROW, 0o777, 0), Err(Errno::EINVAL));
        assert_eq!(s.writable(0, 10, 0), Ok(10));
        assert_eq!(s.resize(10, 0), Ok(()));
        assert_eq!(s.shared_mapping(true), Ok(true));
    }

    #[test]
    fn seal_seal_and_exec() {
        let mut s = Seals::sealable(0);
        s.add(F_SEAL_SEAL, 0o666, 0).expect("add");
        assert_eq!(s.add(0, 0o666, 0), Err(Errno::EPERM));
        let mut s = Seals::sealable(0);
        s.add(F_SEAL_EXEC, 0o666, 0).expect("add");
        assert_eq!(s.get(), Ok(F_SEAL_EXEC));
        let mut s = Seals::sealable(0);
        // On an executable file F_SEAL_EXEC brings F_SEAL_WRITE, which a mapping forbids.
        assert_eq!(s.add(F_SEAL_EXEC, 0o777, 1), Err(Errno::EBUSY));
        s.add(F_SEAL_EXEC, 0o777, 0).expect("add");
        assert_eq!(s.get(), Ok(0x3e));
    }

    #[test]
    fn write_seals() {
        let mut s = Seals::sealable(0);
        assert_eq!(s.add(F_SEAL_WRITE, 0o777, 1), Err(Errno::EBUSY));
        s.add(F_SEAL_FUTURE_WRITE, 0o777, 1)
            .expect("future write with a mapping");
        assert_eq!(s.writable(0, 1, 10), Err(Errno::EPERM));
        assert_eq!(s.shared_mapping(true), Err(Errno::EPERM));
        assert_eq!(s.shared_mapping(false), Ok(false));
        assert_eq!(s.allocate(true, 5, 10), Err(Errno::EPERM));
        assert_eq!(s.allocate(false, 50, 10), Ok(()));
        assert_eq!(s.resize(10, 100), Ok(()));
        s.add(F_SEAL_WRITE, 0o777, 0).expect("add");
        assert_eq!(s.add(F_SEAL_WRITE, 0o777, 3), Ok(()), "already sealed");
    }

    #[test]
    fn size_seals() {
        let s = Seals::sealable(F_SEAL_SHRINK);
        assert_eq!(s.resize(10, 5), Err(Errno::EPERM));
        assert_eq!(s.resize(10, 10), Ok(()));
        assert_eq!(s.resize(10, 50), Ok(()));
        let s = Seals::sealable(F_SEAL_GROW);
        assert_eq!(s.resize(10, 50), Err(Errno::EPERM));
        assert_eq!(s.writable(0, 3, 8192), Ok(3));
        assert_eq!(s.writable(8192, 3, 8192), Err(Errno::EPERM));
        assert_eq!(s.writable(0, 12288, 8192), Ok(8192));
        assert_eq!(s.writable(200, 8000, 8192), Ok(7992));
        assert_eq!(s.writable(8150, 100, 8192), Ok(42));
        assert_eq!(s.writable(0, 20, 10), Err(Errno::EPERM));
        assert_eq!(s.allocate(false, 100, 8192), Ok(()));
        assert_eq!(s.allocate(false, 9000, 8192), Err(Errno::EPERM));
    }
}
