//! AF_UNIX addresses: `struct sockaddr_un` as the guest gives it, and as Linux hands it back.

use snare_abi::socket::{AF_UNIX, SOCKADDR_UN_SIZE};
use snare_abi::Errno;

/// `offsetof(struct sockaddr_un, sun_path)`.
pub const PATH_OFFSET: usize = 2;

/// A bound name: a pathname (`sun_path` up to its NUL) or an abstract name (`sun_path[0] ==
/// 0`, then every byte the address length covers).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixAddr {
    Path(Vec<u8>),
    Abstract(Vec<u8>),
}

impl UnixAddr {
    /// Parses a guest address of `raw.len()` bytes (the caller checked the generic bounds:
    /// at most `sizeof(struct sockaddr_storage)`). EINVAL unless the family is AF_UNIX and
    /// the length leaves room for a name but not more than `struct sockaddr_un` (Linux's
    /// `unix_validate_addr`); a pathname ends at its first NUL.
    pub fn parse(raw: &[u8]) -> Result<UnixAddr, Errno> {
        if raw.len() <= PATH_OFFSET || raw.len() > SOCKADDR_UN_SIZE {
            return Err(Errno::EINVAL);
        }
        if u32::from(u16::from_ne_bytes([raw[0], raw[1]])) != AF_UNIX {
            return Err(Errno::EINVAL);
        }
        let path = &raw[PATH_OFFSET..];
        if path[0] == 0 {
            Ok(UnixAddr::Abstract(path[1..].to_vec()))
        } else {
            let end = path.iter().position(|&c| c == 0).unwrap_or(path.len());
            Ok(UnixAddr::Path(path[..end].to_vec()))
        }
    }

    /// The address as `getsockname` returns it: family, then the path and its NUL, or the
    /// abstract name after its NUL (the length says where it ends).
    pub fn to_sockaddr(&self) -> Vec<u8> {
        let mut out = (AF_UNIX as u16).to_ne_bytes().to_vec();
        match self {
            UnixAddr::Path(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            UnixAddr::Abstract(n) => {
                out.push(0);
                out.extend_from_slice(n);
            }
        }
        out
    }
}

/// The address of an unnamed socket: the family alone.
pub fn unnamed_sockaddr() -> Vec<u8> {
    (AF_UNIX as u16).to_ne_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(path: &[u8]) -> Vec<u8> {
        let mut v = (AF_UNIX as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn parses_and_encodes() {
        let a = UnixAddr::parse(&raw(b"/tmp/s\0junk")).expect("path");
        assert_eq!(a, UnixAddr::Path(b"/tmp/s".to_vec()));
        assert_eq!(a.to_sockaddr().len(), 2 + 6 + 1);
        let b = UnixAddr::parse(&raw(b"\0name")).expect("abstract");
        assert_eq!(b, UnixAddr::Abstract(b"name".to_vec()));
        assert_eq!(b.to_sockaddr().len(), 2 + 5);
        assert_eq!(UnixAddr::parse(&raw(b"")), Err(Errno::EINVAL));
        assert_eq!(UnixAddr::parse(&raw(&[b'a'; 109])), Err(Errno::EINVAL));
        // A full sun_path without a NUL is a 108-byte path.
        let full = UnixAddr::parse(&raw(&[b'a'; 108])).expect("full");
        assert_eq!(full.to_sockaddr().len(), 111);
        let mut bad = raw(b"/x");
        bad[0] = 2;
        assert_eq!(UnixAddr::parse(&bad), Err(Errno::EINVAL));
    }
}
