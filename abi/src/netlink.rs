//! Netlink's ABI as NETLINK_ROUTE uses it: protocols, `SOL_NETLINK` options, message types
//! and flags, `struct nlmsghdr`, `struct nlmsgerr`, `struct sockaddr_nl`, `struct nlattr`
//! (`<linux/netlink.h>`), and the rtnetlink types and attributes the Sentry looks at
//! (`<linux/rtnetlink.h>`, `<linux/if_link.h>`, `<linux/if_addr.h>`).

use static_assertions::{assert_eq_size, const_assert_eq};

/// Netlink protocols (`socket(2)`'s third argument); only NETLINK_ROUTE is served.
pub const NETLINK_ROUTE: i32 = 0;
/// One past the last protocol number (`MAX_LINKS`): EPROTONOSUPPORT from there on.
pub const MAX_LINKS: i32 = 32;

/// The `SOL_NETLINK` level and its options.
pub const SOL_NETLINK: i32 = 270;
pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;
pub const NETLINK_DROP_MEMBERSHIP: i32 = 2;
pub const NETLINK_PKTINFO: i32 = 3;
pub const NETLINK_BROADCAST_ERROR: i32 = 4;
pub const NETLINK_NO_ENOBUFS: i32 = 5;
pub const NETLINK_LISTEN_ALL_NSID: i32 = 8;
pub const NETLINK_LIST_MEMBERSHIPS: i32 = 9;
pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;
pub const NETLINK_GET_STRICT_CHK: i32 = 12;

/// Control message types (below `NLMSG_MIN_TYPE`).
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const NLMSG_MIN_TYPE: u16 = 0x10;

/// `nlmsg_flags`.
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_ECHO: u16 = 0x08;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;
/// GET requests: `NLM_F_ROOT | NLM_F_MATCH` is a dump (either bit starts one).
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// Acknowledgements: the request's payload was left out; extended-ack attributes follow.
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// `NLMSG_ALIGN`: messages and attributes are 4-byte aligned.
pub const fn nlmsg_align(len: usize) -> usize {
    (len + 3) & !3
}
/// `NLMSG_HDRLEN`.
pub const NLMSG_HDRLEN: usize = core::mem::size_of::<Nlmsghdr>();

/// `struct nlmsghdr`: every message's header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nlmsghdr {
    pub nlmsg_len: u32,
    pub nlmsg_type: u16,
    pub nlmsg_flags: u16,
    pub nlmsg_seq: u32,
    pub nlmsg_pid: u32,
}
assert_eq_size!(Nlmsghdr, [u8; 16]);
const_assert_eq!(core::mem::offset_of!(Nlmsghdr, nlmsg_seq), 8);

/// `struct nlmsgerr`: the payload of `NLMSG_ERROR` (an error, or 0: an acknowledgement) and
/// the header of the request it answers (its payload follows unless capped).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nlmsgerr {
    pub error: i32,
    pub msg: Nlmsghdr,
}
assert_eq_size!(Nlmsgerr, [u8; 20]);

/// `struct sockaddr_nl`: a netlink address (port id 0 is the kernel).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockaddrNl {
    pub nl_family: u16,
    pub nl_pad: u16,
    pub nl_pid: u32,
    pub nl_groups: u32,
}
assert_eq_size!(SockaddrNl, [u8; 12]);

/// `struct nlattr`: an attribute's header; its payload follows, the whole aligned to 4.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nlattr {
    pub nla_len: u16,
    pub nla_type: u16,
}
assert_eq_size!(Nlattr, [u8; 4]);
/// `NLA_TYPE_MASK`: the bits of `nla_type` that are the type (the rest are flags).
pub const NLA_TYPE_MASK: u16 = 0x3fff;

crate::impl_pod!(Nlmsghdr, Nlmsgerr, SockaddrNl, Nlattr);

/// rtnetlink message types: `RTM_BASE` on, four per object (NEW, DEL, GET, SET).
pub const RTM_BASE: u16 = 16;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
/// The last rtnetlink type of Linux 6.x (`RTM_MAX`): EOPNOTSUPP past it.
pub const RTM_MAX: u16 = 123;
/// NETLINK_ROUTE's multicast groups (`RTNLGRP_MAX`): the groups a socket may join.
pub const RTNLGRP_MAX: u32 = 36;

/// The fixed headers after `nlmsghdr`: `struct rtgenmsg` (the family alone), `struct
/// ifinfomsg`, `struct ifaddrmsg`, `struct rtmsg`.
pub const RTGENMSG_LEN: usize = 1;
pub const IFINFOMSG_LEN: usize = 16;
pub const IFADDRMSG_LEN: usize = 8;
pub const RTMSG_LEN: usize = 12;

/// `IFLA_*` attributes of links (a GETLINK request may carry the name ones and the mask).
pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFLA_TXQLEN: u16 = 13;
pub const IFLA_EXT_MASK: u16 = 29;
pub const IFLA_ALT_IFNAME: u16 = 53;
/// `IFA_*` attributes of addresses (a GETADDR request may carry the first two).
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;
pub const IFA_BROADCAST: u16 = 4;
/// `RTA_*` attributes a GETROUTE request may carry.
pub const RTA_DST: u16 = 1;
pub const RTA_SRC: u16 = 2;
pub const RTA_IIF: u16 = 3;
pub const RTA_OIF: u16 = 4;
pub const RTA_TABLE: u16 = 15;
pub const RTA_MARK: u16 = 16;
pub const RTA_UID: u16 = 25;
pub const RTA_IP_PROTO: u16 = 27;
pub const RTA_SPORT: u16 = 28;
pub const RTA_DPORT: u16 = 29;
