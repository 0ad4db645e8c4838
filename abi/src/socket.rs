//! Sockets' ABI: address families, types, `SOL_SOCKET` options, `MSG_*` flags, control
//! messages (`<linux/socket.h>`, `<asm-generic/socket.h>`, `<linux/un.h>`), and
//! `struct msghdr`, `struct cmsghdr`, `struct ucred`.

use static_assertions::{assert_eq_size, const_assert_eq};

/// Address families (`AF_*`) the Sentry names.
pub const AF_UNSPEC: u32 = 0;
pub const AF_UNIX: u32 = 1;
pub const AF_INET: u32 = 2;
pub const AF_INET6: u32 = 10;
pub const AF_NETLINK: u32 = 16;
/// One past the last family Linux knows (`AF_MAX`).
pub const AF_MAX: u32 = 46;

/// Socket types (the low bits of `socket(2)`'s type) and the flags that share its argument.
pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_RAW: u32 = 3;
pub const SOCK_RDM: u32 = 4;
pub const SOCK_SEQPACKET: u32 = 5;
pub const SOCK_PACKET: u32 = 10;
pub const SOCK_TYPE_MASK: u32 = 0xf;
pub const SOCK_NONBLOCK: u32 = 0o4000;
pub const SOCK_CLOEXEC: u32 = 0o2_000_000;

/// `shutdown(2)`'s `how`.
pub const SHUT_RD: u32 = 0;
pub const SHUT_WR: u32 = 1;
pub const SHUT_RDWR: u32 = 2;

/// The `SOL_SOCKET` level and its options.
pub const SOL_SOCKET: i32 = 1;
pub const SO_DEBUG: i32 = 1;
pub const SO_REUSEADDR: i32 = 2;
pub const SO_TYPE: i32 = 3;
pub const SO_ERROR: i32 = 4;
pub const SO_DONTROUTE: i32 = 5;
pub const SO_BROADCAST: i32 = 6;
pub const SO_SNDBUF: i32 = 7;
pub const SO_RCVBUF: i32 = 8;
pub const SO_KEEPALIVE: i32 = 9;
pub const SO_OOBINLINE: i32 = 10;
pub const SO_LINGER: i32 = 13;
pub const SO_PASSCRED: i32 = 16;
pub const SO_PEERCRED: i32 = 17;
pub const SO_RCVLOWAT: i32 = 18;
pub const SO_SNDLOWAT: i32 = 19;
pub const SO_RCVTIMEO_OLD: i32 = 20;
pub const SO_SNDTIMEO_OLD: i32 = 21;
pub const SO_PRIORITY: i32 = 12;
pub const SO_ACCEPTCONN: i32 = 30;
pub const SO_PROTOCOL: i32 = 38;
pub const SO_DOMAIN: i32 = 39;
pub const SO_SNDBUFFORCE: i32 = 32;
pub const SO_RCVBUFFORCE: i32 = 33;
/// `__SO_ACCEPTCON` (`<linux/net.h>`): a listening socket's flag, as `/proc/net/unix` shows it.
pub const SO_ACCEPTCON: u32 = 1 << 16;

pub const SO_REUSEPORT: i32 = 15;

/// Protocol numbers (`<linux/in.h>`), which are also the option levels of their protocols.
pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
pub const IPPROTO_IPV6: i32 = 41;
pub const IPPROTO_UDPLITE: i32 = 136;

/// `IPPROTO_UDPLITE` options (`<linux/udp.h>`): the checksum coverage of sends and the
/// least accepted on receives.
pub const UDPLITE_SEND_CSCOV: i32 = 10;
pub const UDPLITE_RECV_CSCOV: i32 = 11;

/// `IPPROTO_IP` options (`<linux/in.h>`).
pub const IP_TOS: i32 = 1;
pub const IP_TTL: i32 = 2;
pub const IP_PKTINFO: i32 = 8;
pub const IP_RECVERR: i32 = 11;
pub const IP_RECVTTL: i32 = 12;
pub const IP_RECVTOS: i32 = 13;
pub const IP_RECVORIGDSTADDR: i32 = 20;
pub const IPV6_RECVERR: i32 = 25;
pub const IPV6_RECVPKTINFO: i32 = 49;
pub const IPV6_PKTINFO: i32 = 50;
pub const IPV6_RECVHOPLIMIT: i32 = 51;
pub const IPV6_HOPLIMIT: i32 = 52;
pub const IPV6_RECVTCLASS: i32 = 66;
pub const SO_TIMESTAMP_OLD: i32 = 29;
pub const SO_TIMESTAMPNS_OLD: i32 = 35;
pub const SO_RXQ_OVFL: i32 = 40;
pub const IP_MTU_DISCOVER: i32 = 10;
pub const IP_MTU: i32 = 14;
pub const IP_FREEBIND: i32 = 15;
pub const IP_BIND_ADDRESS_NO_PORT: i32 = 24;
pub const IP_MULTICAST_IF: i32 = 32;
pub const IP_MULTICAST_TTL: i32 = 33;
pub const IP_MULTICAST_LOOP: i32 = 34;
pub const IP_ADD_MEMBERSHIP: i32 = 35;
pub const IP_DROP_MEMBERSHIP: i32 = 36;
/// Protocol-independent multicast options (`<linux/in.h>`), at `IPPROTO_IP` and
/// `IPPROTO_IPV6` alike, with a `struct group_req` (136 bytes on x86-64).
pub const MCAST_JOIN_GROUP: i32 = 42;
pub const MCAST_LEAVE_GROUP: i32 = 45;
/// `IPPROTO_IPV6` options (`<linux/in6.h>`).
pub const IPV6_UNICAST_HOPS: i32 = 16;
pub const IPV6_MULTICAST_IF: i32 = 17;
pub const IPV6_MULTICAST_HOPS: i32 = 18;
pub const IPV6_MULTICAST_LOOP: i32 = 19;
pub const IPV6_JOIN_GROUP: i32 = 20;
pub const IPV6_LEAVE_GROUP: i32 = 21;
pub const IPV6_MTU_DISCOVER: i32 = 23;
pub const IPV6_MTU: i32 = 24;
pub const IPV6_V6ONLY: i32 = 26;
pub const IPV6_TCLASS: i32 = 67;
/// `IPPROTO_TCP` options (`<linux/tcp.h>`).
pub const TCP_NODELAY: i32 = 1;
pub const TCP_MAXSEG: i32 = 2;
pub const TCP_CORK: i32 = 3;
pub const TCP_KEEPIDLE: i32 = 4;
pub const TCP_KEEPINTVL: i32 = 5;
pub const TCP_KEEPCNT: i32 = 6;
pub const TCP_SYNCNT: i32 = 7;
pub const TCP_LINGER2: i32 = 8;
pub const TCP_DEFER_ACCEPT: i32 = 9;
pub const TCP_WINDOW_CLAMP: i32 = 10;
pub const TCP_INFO: i32 = 11;
pub const TCP_QUICKACK: i32 = 12;
pub const TCP_CONGESTION: i32 = 13;
pub const TCP_USER_TIMEOUT: i32 = 18;
pub const TCP_FASTOPEN: i32 = 23;
pub const TCP_NOTSENT_LOWAT: i32 = 25;

/// `send`/`recv` flags (`MSG_*`).
pub const MSG_OOB: u32 = 1;
pub const MSG_PEEK: u32 = 2;
pub const MSG_DONTROUTE: u32 = 4;
pub const MSG_CTRUNC: u32 = 8;
pub const MSG_ERRQUEUE: u32 = 0x2000;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_EOR: u32 = 0x80;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_MORE: u32 = 0x8000;
pub const MSG_WAITFORONE: u32 = 0x10000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

/// Control message types at `SOL_SOCKET`.
pub const SCM_RIGHTS: i32 = 1;
pub const SCM_CREDENTIALS: i32 = 2;
/// The most fds one message carries (`SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;

/// `sizeof(struct sockaddr_un)` and of its `sun_path`.
pub const SOCKADDR_UN_SIZE: usize = 110;
pub const UNIX_PATH_MAX: usize = 108;
/// The largest address any family has (`sizeof(struct sockaddr_storage)`).
pub const SOCKADDR_STORAGE_SIZE: usize = 128;

/// `SIOCINQ` is `FIONREAD`; `SIOCOUTQ` is `TIOCOUTQ`.
pub const SIOCOUTQ: u32 = 0x5411;
/// Bytes of a TCP socket's queue not yet sent.
pub const SIOCOUTQNSD: u32 = 0x894B;

/// The interface ioctls every socket answers (`<linux/sockios.h>`), with a `struct ifreq`
/// (a name, then a 24-byte union) or, for `SIOCGIFCONF`, a `struct ifconf`.
pub const SIOCGIFNAME: u32 = 0x8910;
pub const SIOCGIFCONF: u32 = 0x8912;
pub const SIOCGIFFLAGS: u32 = 0x8913;
pub const SIOCSIFFLAGS: u32 = 0x8914;
pub const SIOCGIFADDR: u32 = 0x8915;
pub const SIOCSIFADDR: u32 = 0x8916;
pub const SIOCGIFDSTADDR: u32 = 0x8917;
pub const SIOCSIFDSTADDR: u32 = 0x8918;
pub const SIOCGIFBRDADDR: u32 = 0x8919;
pub const SIOCSIFBRDADDR: u32 = 0x891a;
pub const SIOCGIFNETMASK: u32 = 0x891b;
pub const SIOCSIFNETMASK: u32 = 0x891c;
pub const SIOCGIFMETRIC: u32 = 0x891d;
pub const SIOCSIFMETRIC: u32 = 0x891e;
pub const SIOCGIFMTU: u32 = 0x8921;
pub const SIOCSIFMTU: u32 = 0x8922;
pub const SIOCSIFNAME: u32 = 0x8923;
pub const SIOCSIFHWADDR: u32 = 0x8924;
pub const SIOCGIFHWADDR: u32 = 0x8927;
pub const SIOCADDMULTI: u32 = 0x8931;
pub const SIOCDELMULTI: u32 = 0x8932;
pub const SIOCGIFINDEX: u32 = 0x8933;
pub const SIOCGIFTXQLEN: u32 = 0x8942;
pub const SIOCSIFTXQLEN: u32 = 0x8943;
pub const SIOCGIFMAP: u32 = 0x8970;
pub const SIOCSIFMAP: u32 = 0x8971;
/// `IFNAMSIZ` and `sizeof(struct ifreq)`.
pub const IFNAMSIZ: usize = 16;
pub const IFREQ_SIZE: usize = 40;

/// `struct ifconf`: a buffer of `struct ifreq`s and its length.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ifconf {
    pub ifc_len: i32,
    pub __pad: u32,
    pub ifc_buf: u64,
}
assert_eq_size!(Ifconf, [u8; 16]);

/// `struct msghdr` (`<linux/socket.h>`, the user-space layout of x86-64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msghdr {
    pub msg_name: u64,
    pub msg_namelen: u32,
    pub __pad1: u32,
    pub msg_iov: u64,
    pub msg_iovlen: u64,
    pub msg_control: u64,
    pub msg_controllen: u64,
    pub msg_flags: u32,
    pub __pad2: u32,
}
assert_eq_size!(Msghdr, [u8; 56]);
const_assert_eq!(core::mem::offset_of!(Msghdr, msg_iov), 16);
const_assert_eq!(core::mem::offset_of!(Msghdr, msg_controllen), 40);
const_assert_eq!(core::mem::offset_of!(Msghdr, msg_flags), 48);

/// `struct mmsghdr`: a `msghdr` and the bytes its call moved.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mmsghdr {
    pub msg_hdr: Msghdr,
    pub msg_len: u32,
    pub __pad: u32,
}
assert_eq_size!(Mmsghdr, [u8; 64]);

/// `struct cmsghdr`: a control message's header; its data follows, aligned to 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cmsghdr {
    pub cmsg_len: u64,
    pub cmsg_level: i32,
    pub cmsg_type: i32,
}
assert_eq_size!(Cmsghdr, [u8; 16]);

/// `CMSG_ALIGN`, `CMSG_LEN` and `CMSG_SPACE`.
pub const fn cmsg_align(len: usize) -> usize {
    (len + 7) & !7
}
pub const fn cmsg_len(len: usize) -> usize {
    core::mem::size_of::<Cmsghdr>() + len
}
pub const fn cmsg_space(len: usize) -> usize {
    core::mem::size_of::<Cmsghdr>() + cmsg_align(len)
}

/// `struct ucred`: what `SCM_CREDENTIALS` and `SO_PEERCRED` carry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}
assert_eq_size!(Ucred, [u8; 12]);

crate::impl_pod!(Msghdr, Mmsghdr, Cmsghdr, Ucred, Ifconf);
