//! Copying to and from guest memory.

use snare_abi::Errno;

/// Access to a guest's memory by guest virtual address. Implementations translate through the
/// Sentry's own page tables into the memory file; nothing goes through the stub.
pub trait GuestMemory {
    /// Copies `buf.len()` bytes from guest address `addr`. `EFAULT` if any byte is unmapped or
    /// unreadable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;

    /// Copies `data` to guest address `addr`. `EFAULT` if any byte is unmapped or unwritable.
    fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno>;

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL). `ENAMETOOLONG`
    /// when no NUL comes within `max` bytes, `EFAULT` on a bad address.
    fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < max {
            // Read up to the end of the current page, so a string that ends just before an
            // unmapped page is fine.
            let page_left = 4096 - (at % 4096) as usize;
            let n = page_left.min(max - out.len());
            let mut chunk = vec![0u8; n];
            self.read(at, &mut chunk)?;
            if let Some(end) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            at += n as u64;
        }
        Err(Errno::ENAMETOOLONG)
    }

    /// Reads a plain-old-data value.
    fn read_val<T: snare_abi::Pod + Default>(&self, addr: u64) -> Result<T, Errno>
    where
        Self: Sized,
    {
        let mut v = T::default();
        let bytes = pod_bytes_mut(&mut v);
        self.read(addr, bytes)?;
        Ok(v)
    }
}

/// The bytes of a Pod value.
fn pod_bytes_mut<T: snare_abi::Pod>(v: &mut T) -> &mut [u8] {
    snare_abi::pod::as_bytes_mut(v)
}

/// A flat byte buffer standing in for guest memory, for tests: guest address `base` is
/// `bytes[0]`.
#[derive(Debug, Default)]
pub struct FlatMemory {
    pub base: u64,
    pub bytes: std::cell::RefCell<Vec<u8>>,
}

impl GuestMemory for FlatMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let b = self.bytes.borrow();
        let start = addr.checked_sub(self.base).ok_or(Errno::EFAULT)? as usize;
        let src = b.get(start..start + buf.len()).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        let mut b = self.bytes.borrow_mut();
        let start = addr.checked_sub(self.base).ok_or(Errno::EFAULT)? as usize;
        let dst = b.get_mut(start..start + data.len()).ok_or(Errno::EFAULT)?;
        dst.copy_from_slice(data);
        Ok(())
    }
}
