//! `linux.sysctl`: the kernel parameters a container sets, checked as runc checks them (only
//! parameters namespaced in Linux, so a container can't change the host's) and applied where
//! the sandbox has the namespace on the host:
//!
//! - `net.*`: written to `/proc/sys/net/…` of the network namespace the bundle names by path
//!   (Docker's), by the container's init right after it joined it and before it clones the
//!   Sentry (the init is still the host's root then). The guest reads them through the
//!   Sentry's `/proc/sys/net` (`net::proc_net`), and the host kernel applies them to the
//!   sandbox's sockets. With a network of the sandbox's own (no path) they are accepted and
//!   not applied (a debug line); with the host's network (no `network` namespace) refused, as
//!   runc refuses them.
//! - System V IPC (`kernel.msgmax`, `msgmnb`, `msgmni`, `sem`, `shmall`, `shmmax`,
//!   `shmmni`, `shm_rmid_forced`): checked as Linux checks a write (numbers, `sem` as four,
//!   id limits at most 32768) and set as the limits of the sandbox's IPC namespace
//!   (`kernel::ipc::Limits`), which the guest's `/proc/sys/kernel/*` then show.
//!   `shm_rmid_forced` is shown, not applied.
//! - `fs.mqueue.*` and `kernel.domainname`: accepted and not applied (the Sentry's message
//!   queues keep their own limits; a debug line).
//! - Anything else: refused at `create` ("… is not in a separate kernel namespace").
//!
//! Names are dotted words of `[a-z0-9_-]` (no `/`, no `..`: a name is never a path out of
//! `/proc/sys/net`); values are at most 4096 bytes without NUL or newline.

use std::collections::HashMap;

use super::{error, OciError};
use crate::cli::Network;
use crate::kernel::ipc::Limits;

const IPC: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The `net.*` parameters to write (name, value), sorted, and the IPC namespace's limits,
/// after checking every entry.
pub fn check(
    sysctl: &HashMap<String, String>,
    network: &Network,
) -> Result<(Vec<(String, String)>, Limits), OciError> {
    let mut apply = Vec::new();
    let mut ipc = Limits::default();
    for (name, value) in sysctl {
        let words_ok = !name.is_empty()
            && name.len() <= 256
            && name.split('.').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b))
            });
        if !words_ok {
            return Err(error(format!(
                "linux.sysctl: {name:?} is not a sysctl name"
            )));
        }
        if value.len() > 4096 || value.contains(['\0', '\n']) {
            return Err(error(format!(
                "linux.sysctl: {name}: a value of at most 4096 bytes without NUL or newline"
            )));
        }
        if let Some(_rest) = name.strip_prefix("net.") {
            match network {
                Network::Host => {
                    return Err(error(format!(
                        "sysctl {name:?} not allowed in host network namespace"
                    )))
                }
                Network::Join(_) => apply.push((name.clone(), value.clone())),
                Network::None => {
                    tracing::debug!(name, "sysctl: the sandbox's own network: not applied")
                }
            }
        } else if IPC.contains(&name.as_str()) {
            let short = name.trim_start_matches("kernel.");
            ipc.set(short, value)
                .map_err(|e| error(format!("linux.sysctl: invalid value: {}", e.0)))?;
        } else if name.starts_with("fs.mqueue.") || name == "kernel.domainname" {
            tracing::debug!(
                name,
                "sysctl: accepted, not applied (the Sentry's own mqueue/UTS)"
            );
        } else {
            return Err(error(format!(
                "sysctl {name:?} is not in a separate kernel namespace"
            )));
        }
    }
    apply.sort();
    Ok((apply, ipc))
}

/// Writes `net.*` parameters through `/proc/sys` of the caller's (just joined) network
/// namespace.
pub fn apply(list: &[(String, String)]) -> Result<(), String> {
    for (name, value) in list {
        let path = format!("/proc/sys/{}", name.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| format!("sysctl {name}={value}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn runc_rules() {
        let join = Network::Join("/run/netns/x".into());
        let docker = map(&[
            ("net.ipv4.ip_unprivileged_port_start", "0"),
            ("net.ipv4.ping_group_range", "0 2147483647"),
            ("kernel.shmmax", "1"),
            ("fs.mqueue.msg_max", "20"),
        ]);
        let (l, ipc) = check(&docker, &join).expect("Docker's");
        assert_eq!(ipc.shmmax, 1);
        assert_eq!(
            l,
            [
                ("net.ipv4.ip_unprivileged_port_start".into(), "0".into()),
                ("net.ipv4.ping_group_range".into(), "0 2147483647".into())
            ]
        );
        assert!(check(&docker, &Network::None)
            .expect("own net")
            .0
            .is_empty());
        assert!(check(&docker, &Network::Host)
            .expect_err("host net")
            .0
            .contains("host network namespace"));
        for bad in [
            "kernel.pid_max",
            "vm.overcommit_memory",
            "net/../../kernel/x",
            "net..x",
            "NET.X",
            "",
            "net.ipv4.x/y",
        ] {
            assert!(check(&map(&[(bad, "1")]), &join).is_err(), "{bad:?}");
        }
        assert!(check(&map(&[("net.core.somaxconn", "1\n2")]), &join).is_err());
        assert!(check(&map(&[("net.core.somaxconn", &"9".repeat(5000))]), &join).is_err());
    }

    /// The IPC namespace's limits, checked as Linux checks a write to them.
    #[test]
    fn ipc_limits() {
        let ipc = map(&[
            ("kernel.sem", "250 32000 32 128"),
            ("kernel.shmmni", "100"),
            ("kernel.msgmnb", "65536"),
            ("kernel.shm_rmid_forced", "1"),
        ]);
        let (_, l) = check(&ipc, &Network::None).expect("IPC");
        assert_eq!(
            (l.semmsl, l.semmns, l.semopm, l.semmni),
            (250, 32000, 32, 128)
        );
        assert_eq!((l.shmmni, l.msgmnb, l.msgmax), (100, 65536, 8192));
        assert!(l.shm_rmid_forced);
        for (name, value) in [
            ("kernel.sem", "1 2 3"),
            ("kernel.sem", "1 2 3 x"),
            ("kernel.shmmni", "32769"),
            ("kernel.msgmni", "-1"),
            ("kernel.msgmax", "4294967296"),
            ("kernel.shmmax", "big"),
            ("kernel.shm_rmid_forced", "2"),
        ] {
            assert!(
                check(&map(&[(name, value)]), &Network::None).is_err(),
                "{name}={value}"
            );
        }
    }
}
