//! The text of `/proc/net/*` and `/proc/sys/net/core/somaxconn` (the procfs tree is
//! `vfs/procfs.rs`'s; it asks here through `Caller::net_file`).
//!
//! `dev`, `if_inet6`, `route`, `ipv6_route`, `arp`, `igmp`, `igmp6`, `dev_mcast`, `snmp`,
//! `snmp6`, `netstat` and `somaxconn` are the host's files of the sandbox's network
//! namespace, read through the Sentry's held procfs (whose `net` is the Sentry's namespace,
//! which is the sandbox's): they hold no socket of anyone. `tcp`, `tcp6`, `udp`, `udp6`,
//! `raw` and `raw6` are the host's too, with what would tell the guest about the host
//! rewritten on each line: the inode column becomes the guest's inode
//! number of the socket (what `/proc/PID/fd` shows as `socket:[N]`) for a socket the Sentry
//! owns and 0 for any other, the uid column the owning guest's uid (65534, the overflow uid,
//! for a socket that isn't the sandbox's: possible with `--network host`), and the kernel
//! address column zeros. `unix` is built from the Sentry's own AF_UNIX sockets in Linux's
//! format.
//!
//! Deviations from Linux: `unix` shows a reference count of 2 for every socket and no
//! kernel addresses; a host file that can't be read (`if_inet6` without IPv6) is empty;
//! `sockstat` (whose memory counts are the host's, not the namespace's), `packet`,
//! `netlink`, `udplite`, `protocols` and the rest are absent.

use std::collections::HashMap;
use std::fmt::Write as _;

use snare_abi::socket::SO_ACCEPTCON;

use crate::net::unix::addr::UnixAddr;
use crate::vfs::procfs::NetFile;

/// `somaxconn` when the host's can't be read (Linux's default since 5.4).
const SOMAXCONN: u32 = 4096;
/// The uid a socket that isn't the sandbox's shows (`overflowuid`).
const OVERFLOW_UID: u32 = 65534;

/// The text of `f`.
pub fn contents(f: NetFile) -> Vec<u8> {
    let host = |name: &str| snare_platform::host_proc::read_to_string(name).unwrap_or_default();
    match f {
        NetFile::Host(name) => host(&format!("net/{name}")).into_bytes(),
        NetFile::Sockets(name) => {
            sockets_table(&host(&format!("net/{name}")), &super::inet::host_inodes()).into_bytes()
        }
        NetFile::Unix => unix_table(&super::unix::proc_entries()).into_bytes(),
        NetFile::Somaxconn => {
            let v = host("sys/net/core/somaxconn");
            let n = v.trim().parse().unwrap_or(SOMAXCONN);
            format!("{n}\n").into_bytes()
        }
    }
}

/// Columns of a `tcp`/`udp` line (split at white space) the guest must not see as the host
/// wrote them.
const UID_COL: usize = 7;
const INODE_COL: usize = 9;
const POINTER_COL: usize = 11;

/// A host `tcp`/`tcp6`/`udp`/`udp6` table with each socket line's uid, inode and kernel
/// address rewritten (`owned`: host inode → the guest's inode and uid). The header and
/// lines too short to be a socket's are kept as they are.
fn sockets_table(host: &str, owned: &HashMap<u64, (u64, u32)>) -> String {
    let mut out = String::with_capacity(host.len());
    for (i, line) in host.lines().enumerate() {
        if i == 0 {
            out.push_str(line);
        } else {
            out.push_str(&socket_line(line, owned));
        }
        out.push('\n');
    }
    out
}

/// One socket line, rewritten (see [`sockets_table`]).
fn socket_line(line: &str, owned: &HashMap<u64, (u64, u32)>) -> String {
    // (start, end) of each white-space separated column.
    let mut cols = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_ascii_whitespace(), start) {
            (true, Some(s)) => {
                cols.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        cols.push((s, line.len()));
    }
    if cols.len() <= INODE_COL {
        return line.to_string();
    }
    let (a, b) = cols[INODE_COL];
    let host_ino: u64 = line[a..b].parse().unwrap_or(0);
    let (ino, uid) = match owned.get(&host_ino) {
        Some(&v) => v,
        // A time-wait or orphaned socket has no inode and shows uid 0.
        None if host_ino == 0 => (0, 0),
        None => (0, OVERFLOW_UID),
    };
    // The uid is `%5u` after one space: its field starts right after the column before.
    let uid_field = (cols[UID_COL - 1].1 + 1, cols[UID_COL].1);
    let mut repl = vec![
        (uid_field, format!("{uid:>5}")),
        (cols[INODE_COL], ino.to_string()),
    ];
    if let Some(&(a, b)) = cols.get(POINTER_COL) {
        repl.push(((a, b), "0".repeat(b - a)));
    }
    // From the right, so the earlier columns' offsets still hold.
    let mut s = line.to_string();
    for ((a, b), new) in repl.into_iter().rev() {
        s.replace_range(a..b, &new);
    }
    s
}

/// `/proc/net/unix` of `socks`, as Linux's `unix_seq_show` writes it.
fn unix_table(socks: &[super::unix::ProcEntry]) -> String {
    let mut out = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
    for s in socks {
        let flags = if s.listening { SO_ACCEPTCON } else { 0 };
        let _ = write!(
            out,
            "{:016x}: {:08X} {:08X} {:08X} {:04X} {:02X} {:5}",
            0, 2, 0, flags, s.ty, s.state, s.ino
        );
        match &s.name {
            Some(UnixAddr::Path(p)) => {
                out.push(' ');
                out.push_str(&String::from_utf8_lossy(p));
            }
            Some(UnixAddr::Abstract(n)) => {
                out.push_str(" @");
                let shown: Vec<u8> = n.iter().map(|&c| if c == 0 { b'@' } else { c }).collect();
                out.push_str(&String::from_utf8_lossy(&shown));
            }
            None => {}
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 123456 1 ffff8881034b8000 100 0 0 10 0                     
   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1 ffff8881034b9000 100 0 0 10 0                     
   2: 0100007F:1F92 0100007F:9C40 06 00000000:00000000 03:00001770 00000000     0        0 0 3 ffff8881034ba000
";

    #[test]
    fn tcp_lines_hide_the_host() {
        let owned = HashMap::from([(123456u64, (0x4001u64, 0u32))]);
        let out = sockets_table(TCP, &owned);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("  sl  local_address"));
        let cols = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let owned_line = cols(lines[1]);
        assert_eq!(owned_line[UID_COL], "0");
        assert_eq!(owned_line[INODE_COL], 0x4001.to_string());
        assert_eq!(owned_line[POINTER_COL], "0000000000000000");
        assert_eq!(owned_line[1], "0100007F:1F90");
        let other = cols(lines[2]);
        assert_eq!(other[UID_COL], "65534");
        assert_eq!(other[INODE_COL], "0");
        let tw = cols(lines[3]);
        assert_eq!(tw[UID_COL], "0");
        assert_eq!(tw[INODE_COL], "0");
        assert_eq!(tw[POINTER_COL], "0000000000000000");
        // Nothing of the host's numbers is left.
        assert!(!out.contains("123456") && !out.contains("ffff888") && !out.contains(" 777 "));
    }

    #[test]
    fn short_and_odd_lines_are_kept() {
        let out = sockets_table("header\n   0: x y\n\n", &HashMap::new());
        assert_eq!(out, "header\n   0: x y\n\n");
        // A non-number inode is taken for 0; the line is still rewritten.
        let odd = "   0: a b c d e f 12 g zz h ffff";
        assert!(socket_line(odd, &HashMap::new()).contains(" 0 h 0000"));
    }

    #[test]
    fn unix_lines_as_linux() {
        use super::super::unix::ProcEntry;
        let socks = [
            ProcEntry {
                ino: 0x4000,
                ty: 1,
                listening: true,
                state: 1,
                name: Some(UnixAddr::Path(b"/tmp/s".to_vec())),
            },
            ProcEntry {
                ino: 0x4001,
                ty: 2,
                listening: false,
                state: 3,
                name: Some(UnixAddr::Abstract(b"a\0b".to_vec())),
            },
            ProcEntry {
                ino: 17,
                ty: 5,
                listening: false,
                state: 2,
                name: None,
            },
        ];
        let t = unix_table(&socks);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "Num       RefCount Protocol Flags    Type St Inode Path"
        );
        assert_eq!(
            lines[1],
            "0000000000000000: 00000002 00000000 00010000 0001 01 16384 /tmp/s"
        );
        assert_eq!(
            lines[2],
            "0000000000000000: 00000002 00000000 00000000 0002 03 16385 @a@b"
        );
        assert_eq!(
            lines[3],
            "0000000000000000: 00000002 00000000 00000000 0005 02    17"
        );
    }
}
