//! The interface ioctls every socket answers (`SIOCGIF*`: glibc's `if_nametoindex` and
//! `if_indextoname`, `ifconfig`, programs that list interfaces with `SIOCGIFCONF`), from the
//! host's NETLINK_ROUTE dumps of the sandbox's links and IPv4 addresses: the Sentry's own
//! requests ([`route::host_dump`]), so no host ioctl is needed and the answers are the same
//! facts `ip` shows.
//!
//! As Linux: the name is cut at 15 bytes; an unknown name or index is ENODEV; the address
//! ioctls (`SIOCGIFADDR`, `…DSTADDR`, `…BRDADDR`, `…NETMASK`) are AF_INET's (ENOTTY on other
//! sockets), find the address by label (`eth0:1`) and, when the guest gave an AF_INET address,
//! by that address first, and are EADDRNOTAVAIL without one; `SIOCGIFCONF` lists IPv4
//! addresses, or the length they need when the buffer is NULL. Every `SIOCSIF*` is EPERM (no
//! `CAP_NET_ADMIN`). Deviation: `SIOCGIFMAP` is all zeros (right for virtual devices).

use snare_abi::netlink::{
    nlmsg_align, IFADDRMSG_LEN, IFA_ADDRESS, IFA_BROADCAST, IFA_LABEL, IFA_LOCAL, IFINFOMSG_LEN,
    IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_TXQLEN, RTM_GETADDR, RTM_GETLINK,
};
use snare_abi::socket::{
    Ifconf, AF_INET, IFNAMSIZ, IFREQ_SIZE, SIOCADDMULTI, SIOCDELMULTI, SIOCGIFADDR, SIOCGIFBRDADDR,
    SIOCGIFCONF, SIOCGIFDSTADDR, SIOCGIFFLAGS, SIOCGIFHWADDR, SIOCGIFINDEX, SIOCGIFMAP,
    SIOCGIFMETRIC, SIOCGIFMTU, SIOCGIFNAME, SIOCGIFNETMASK, SIOCGIFTXQLEN, SIOCSIFADDR,
    SIOCSIFBRDADDR, SIOCSIFDSTADDR, SIOCSIFFLAGS, SIOCSIFHWADDR, SIOCSIFMAP, SIOCSIFMETRIC,
    SIOCSIFMTU, SIOCSIFNAME, SIOCSIFNETMASK, SIOCSIFTXQLEN,
};
use snare_abi::Errno;

use super::{msg, route};
use crate::mm::GuestMemory;

/// Where `struct ifreq`'s union starts.
const UNION: usize = IFNAMSIZ;

/// One link as the host reports it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Link {
    index: i32,
    /// `ARPHRD_*`.
    ty: u16,
    flags: u32,
    name: Vec<u8>,
    mtu: u32,
    addr: Vec<u8>,
    txqlen: u32,
}

/// One IPv4 address.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Addr4 {
    index: u32,
    prefixlen: u8,
    local: [u8; 4],
    address: [u8; 4],
    broadcast: [u8; 4],
    label: Vec<u8>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

/// A string attribute up to its NUL.
fn text(b: &[u8]) -> Vec<u8> {
    b.iter().take_while(|&&c| c != 0).copied().collect()
}

fn ip4(b: &[u8]) -> [u8; 4] {
    b.get(..4).and_then(|w| w.try_into().ok()).unwrap_or([0; 4])
}

/// A link from an `RTM_NEWLINK` payload (`ifinfomsg`, then attributes).
fn parse_link(p: &[u8]) -> Option<Link> {
    if p.len() < IFINFOMSG_LEN {
        return None;
    }
    let mut l = Link {
        index: u32_at(p, 4) as i32,
        ty: u16::from_ne_bytes([p[2], p[3]]),
        flags: u32_at(p, 8),
        ..Link::default()
    };
    for (t, d) in msg::attrs(&p[nlmsg_align(IFINFOMSG_LEN)..]) {
        match t {
            IFLA_IFNAME => l.name = text(d),
            IFLA_MTU => l.mtu = u32_at(d, 0),
            IFLA_ADDRESS => l.addr = d.to_vec(),
            IFLA_TXQLEN => l.txqlen = u32_at(d, 0),
            _ => {}
        }
    }
    Some(l)
}

/// An IPv4 address from an `RTM_NEWADDR` payload (`ifaddrmsg`, then attributes).
fn parse_addr4(p: &[u8]) -> Option<Addr4> {
    if p.len() < IFADDRMSG_LEN || u32::from(p[0]) != AF_INET {
        return None;
    }
    let mut a = Addr4 {
        index: u32_at(p, 4),
        prefixlen: p[1],
        ..Addr4::default()
    };
    for (t, d) in msg::attrs(&p[IFADDRMSG_LEN..]) {
        match t {
            IFA_LOCAL => a.local = ip4(d),
            IFA_ADDRESS => a.address = ip4(d),
            IFA_BROADCAST => a.broadcast = ip4(d),
            IFA_LABEL => a.label = text(d),
            _ => {}
        }
    }
    Some(a)
}

fn links() -> Result<Vec<Link>, Errno> {
    Ok(route::host_dump(RTM_GETLINK, 0)?
        .iter()
        .filter_map(|(_, p)| parse_link(p))
        .collect())
}

/// The IPv4 addresses, in the order Linux lists them (by link, then as added).
fn addrs4(links: &[Link]) -> Result<Vec<Addr4>, Errno> {
    let all: Vec<Addr4> = route::host_dump(RTM_GETADDR, AF_INET as u8)?
        .iter()
        .filter_map(|(_, p)| parse_addr4(p))
        .collect();
    let mut out = Vec::with_capacity(all.len());
    for l in links {
        out.extend(all.iter().filter(|a| a.index as i32 == l.index).cloned());
    }
    Ok(out)
}

/// Whether `cmd` is an interface ioctl ([`ioctl`] answers it).
pub fn is_interface_ioctl(cmd: u32) -> bool {
    GETS.contains(&cmd) || SETS.contains(&cmd) || ADDR_GETS.contains(&cmd) || cmd == SIOCGIFCONF
}

const GETS: &[u32] = &[
    SIOCGIFNAME,
    SIOCGIFFLAGS,
    SIOCGIFMETRIC,
    SIOCGIFMTU,
    SIOCGIFHWADDR,
    SIOCGIFINDEX,
    SIOCGIFTXQLEN,
    SIOCGIFMAP,
];
const ADDR_GETS: &[u32] = &[SIOCGIFADDR, SIOCGIFDSTADDR, SIOCGIFBRDADDR, SIOCGIFNETMASK];
const ADDR_SETS: &[u32] = &[SIOCSIFADDR, SIOCSIFDSTADDR, SIOCSIFBRDADDR, SIOCSIFNETMASK];
const SETS: &[u32] = &[
    SIOCSIFFLAGS,
    SIOCSIFMETRIC,
    SIOCSIFMTU,
    SIOCSIFNAME,
    SIOCSIFHWADDR,
    SIOCADDMULTI,
    SIOCDELMULTI,
    SIOCSIFTXQLEN,
    SIOCSIFMAP,
    SIOCSIFADDR,
    SIOCSIFDSTADDR,
    SIOCSIFBRDADDR,
    SIOCSIFNETMASK,
];

/// Answers interface ioctl `cmd` (see [`is_interface_ioctl`]) with the `struct ifreq` or
/// `struct ifconf` at `arg`; `inet` says whether the socket is AF_INET's.
pub fn ioctl(cmd: u32, arg: u64, mem: &dyn GuestMemory, inet: bool) -> Result<u64, Errno> {
    if cmd == SIOCGIFCONF {
        return ifconf(arg, mem);
    }
    let is_addr = ADDR_GETS.contains(&cmd) || ADDR_SETS.contains(&cmd);
    if is_addr && !inet {
        return Err(Errno::ENOTTY);
    }
    let mut r = [0u8; IFREQ_SIZE];
    mem.read(arg, &mut r)?;
    r[IFNAMSIZ - 1] = 0;
    if SETS.contains(&cmd) {
        tracing::debug!(cmd, "interface change ioctl: EPERM");
        return Err(Errno::EPERM);
    }
    let name = text(&r[..IFNAMSIZ]);
    let links = links()?;
    if cmd == SIOCGIFNAME {
        let index = u32_at(&r, UNION) as i32;
        let l = links
            .iter()
            .find(|l| l.index == index)
            .ok_or(Errno::ENODEV)?;
        r[..IFNAMSIZ].fill(0);
        let n = l.name.len().min(IFNAMSIZ - 1);
        r[..n].copy_from_slice(&l.name[..n]);
        mem.write(arg, &r)?;
        return Ok(0);
    }
    if is_addr {
        return address(cmd, arg, mem, r, &links);
    }
    let l = links.iter().find(|l| l.name == name).ok_or(Errno::ENODEV)?;
    let int = match cmd {
        SIOCGIFMETRIC => Some(0),
        SIOCGIFMTU => Some(l.mtu),
        SIOCGIFINDEX => Some(l.index as u32),
        SIOCGIFTXQLEN => Some(l.txqlen),
        _ => None,
    };
    match (cmd, int) {
        (_, Some(v)) => r[UNION..UNION + 4].copy_from_slice(&v.to_ne_bytes()),
        // The flags are a `short` here (IFF_LOWER_UP and above don't fit).
        (SIOCGIFFLAGS, _) => {
            r[UNION..UNION + 2].copy_from_slice(&(l.flags as u16).to_ne_bytes());
        }
        (SIOCGIFMAP, _) => r[UNION..].fill(0),
        (SIOCGIFHWADDR, _) => {
            r[UNION..UNION + 2].copy_from_slice(&l.ty.to_ne_bytes());
            let data = &mut r[UNION + 2..UNION + 16];
            if l.addr.is_empty() {
                data.fill(0);
            }
            let n = l.addr.len().min(data.len());
            data[..n].copy_from_slice(&l.addr[..n]);
        }
        _ => return Err(Errno::ENOTTY),
    }
    mem.write(arg, &r)?;
    Ok(0)
}

/// The AF_INET address ioctls: the address labelled as the name (and equal to the one the
/// guest gave, if it gave an AF_INET one), as a `struct sockaddr_in`.
fn address(
    cmd: u32,
    arg: u64,
    mem: &dyn GuestMemory,
    mut r: [u8; IFREQ_SIZE],
    links: &[Link],
) -> Result<u64, Errno> {
    let name = text(&r[..IFNAMSIZ]);
    let dev = name.split(|&c| c == b':').next().unwrap_or(&[]);
    if !links.iter().any(|l| l.name == dev) {
        return Err(Errno::ENODEV);
    }
    let given = (u16::from_ne_bytes([r[UNION], r[UNION + 1]]) == AF_INET as u16)
        .then(|| ip4(&r[UNION + 4..UNION + 8]));
    let addrs = addrs4(links)?;
    let by_label = |a: &&Addr4| a.label == name;
    let found = given
        .and_then(|g| addrs.iter().filter(by_label).find(|a| a.local == g))
        .or_else(|| addrs.iter().find(by_label))
        .ok_or(Errno::EADDRNOTAVAIL)?;
    let ip = match cmd {
        SIOCGIFADDR => found.local,
        SIOCGIFDSTADDR => found.address,
        SIOCGIFBRDADDR => found.broadcast,
        _ => netmask(found.prefixlen),
    };
    r[UNION..UNION + 16].copy_from_slice(&sockaddr_in(ip));
    mem.write(arg, &r)?;
    Ok(0)
}

/// A `struct sockaddr_in` of `ip`, port 0.
fn sockaddr_in(ip: [u8; 4]) -> [u8; 16] {
    let mut sa = [0u8; 16];
    sa[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    sa[4..8].copy_from_slice(&ip);
    sa
}

/// The IPv4 netmask of a prefix length.
fn netmask(prefixlen: u8) -> [u8; 4] {
    let bits = u32::from(prefixlen.min(32));
    let m = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    m.to_be_bytes()
}

/// `SIOCGIFCONF`: an `ifreq` (label, address) per IPv4 address into the guest's buffer, as
/// many as fit; with a NULL buffer, only the length all of them need.
fn ifconf(arg: u64, mem: &dyn GuestMemory) -> Result<u64, Errno> {
    let mut raw = [0u8; std::mem::size_of::<Ifconf>()];
    mem.read(arg, &mut raw)?;
    let mut c: Ifconf = snare_abi::pod::from_bytes(&raw).ok_or(Errno::EFAULT)?;
    let links = links()?;
    let addrs = addrs4(&links)?;
    let room = usize::try_from(c.ifc_len).unwrap_or(0) / IFREQ_SIZE;
    let n = if c.ifc_buf == 0 {
        addrs.len()
    } else {
        addrs.len().min(room)
    };
    if c.ifc_buf != 0 {
        let mut out = Vec::with_capacity(n * IFREQ_SIZE);
        for a in &addrs[..n] {
            let mut r = [0u8; IFREQ_SIZE];
            let l = a.label.len().min(IFNAMSIZ - 1);
            r[..l].copy_from_slice(&a.label[..l]);
            r[UNION..UNION + 16].copy_from_slice(&sockaddr_in(a.local));
            out.extend_from_slice(&r);
        }
        mem.write(c.ifc_buf, &out)?;
    }
    c.ifc_len = (n * IFREQ_SIZE) as i32;
    mem.write(arg, snare_abi::pod::as_bytes(&c))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_hosts_messages() {
        let mut p = vec![0u8; 16];
        p[2..4].copy_from_slice(&772u16.to_ne_bytes());
        p[4..8].copy_from_slice(&1i32.to_ne_bytes());
        p[8..12].copy_from_slice(&0x10049u32.to_ne_bytes());
        msg::put_attr(&mut p, IFLA_IFNAME, b"lo\0");
        msg::put_attr(&mut p, IFLA_MTU, &65536u32.to_ne_bytes());
        msg::put_attr(&mut p, IFLA_ADDRESS, &[0; 6]);
        let l = parse_link(&p).expect("a link");
        assert_eq!((l.index, l.ty, l.flags, l.mtu), (1, 772, 0x10049, 65536));
        assert_eq!((l.name.as_slice(), l.addr.len()), (&b"lo"[..], 6));
        assert_eq!(parse_link(&p[..10]), None);
        let mut a = vec![2, 8, 0, 254, 1, 0, 0, 0];
        msg::put_attr(&mut a, IFA_LOCAL, &[127, 0, 0, 1]);
        msg::put_attr(&mut a, IFA_LABEL, b"lo\0");
        let a = parse_addr4(&a).expect("an address");
        assert_eq!((a.index, a.prefixlen, a.local), (1, 8, [127, 0, 0, 1]));
        assert_eq!(parse_addr4(&[10, 128, 0, 0, 1, 0, 0, 0]), None);
    }

    #[test]
    fn netmasks() {
        assert_eq!(netmask(8), [255, 0, 0, 0]);
        assert_eq!(netmask(0), [0; 4]);
        assert_eq!(netmask(32), [255; 4]);
        assert_eq!(netmask(200), [255; 4]);
        assert_eq!(netmask(23), [255, 255, 254, 0]);
    }
}
