//! A bundle: its `config.json`, read with oci-spec's types, checked, and mapped to the
//! sandbox snare launches for it ([`Launch`]).
//!
//! Everything in `config.json` is the caller's word and is checked here: a file that is too
//! big, not JSON, of the wrong shape, without `process` or `root`, with a relative `cwd`,
//! NUL bytes, `-1` ids, or mounts snare can't make is refused with a message
//! that names the field. What snare provides itself (`/proc`, `/sys`, `/dev`, devpts,
//! mqueue, cgroup) and what it does not apply yet (`oomScoreAdj`) is accepted and logged
//! (`docs/oci.md` lists it). `process.capabilities` and `noNewPrivileges` become the
//! guest's ([`caps_of`]); unknown capability names are left out with a warning, as runc
//! does. `linux.seccomp` becomes the Sentry's profile over
//! guest syscalls (`oci::seccomp`); `linux.cgroupsPath` and `resources` are `oci::cgroup`'s.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hooks, LinuxNamespaceType, Mount, PosixRlimitType, Spec};

use super::{error, OciError};
use crate::cli::Network;
use crate::kernel::mounts::{RootWrites, TmpfsOpts, UserMount};
use crate::kernel::process::Creds;
use crate::run::DoRequest;

/// Largest `config.json` read: Docker's are about 10 KiB, seccomp profile included.
pub const MAX_CONFIG: u64 = 4 << 20;

/// What snare launches for a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The root file system (`root.path`, made absolute against the bundle).
    pub root: PathBuf,
    /// `root.readonly`.
    pub read_only_root: bool,
    /// Where the root's changes go (the annotation `dev.snare.root-overlay`, [`super::rootfs`]).
    pub root_writes: RootWrites,
    /// `process.args`: never empty.
    pub args: Vec<String>,
    /// `process.env`, split at the first `=`.
    pub env: Vec<(String, String)>,
    /// `process.cwd`: absolute.
    pub cwd: String,
    /// `process.user`: uid, gid and `additionalGids`.
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// `process.user.umask` (default 022).
    pub umask: u32,
    /// `process.capabilities` and `noNewPrivileges` ([`caps_of`]).
    pub caps: crate::kernel::caps::CapSets,
    /// From `linux.namespaces`: a `network` entry with a path joins it; without one, a
    /// network of the sandbox's own; no entry, the host's (as runc).
    pub network: Network,
    /// The bind and tmpfs `mounts`, in order.
    pub mounts: Vec<UserMount>,
    /// `hostname`: at most 64 bytes (Linux's `HOST_NAME_MAX`).
    pub hostname: Option<String>,
    /// `linux.resources.memory.limit`, if set: the sandbox's memory limit.
    pub memory: Option<u64>,
    /// `process.rlimits`: (resource, soft, hard), checked (see [`rlimits`]).
    pub rlimits: Vec<(u32, u64, u64)>,
    /// `annotations`, kept in the state.
    pub annotations: HashMap<String, String>,
    /// `hooks` (checked: `oci::hooks`).
    pub hooks: Hooks,
    /// `linux.seccomp`: the profile the Sentry applies to guest syscalls.
    pub seccomp: Option<crate::kernel::seccomp::Filter>,
    /// The `net.*` entries of `linux.sysctl` to write in the joined network namespace
    /// (`oci::sysctl`).
    pub sysctls: Vec<(String, String)>,
    /// The IPC namespace's limits from the `kernel.shm*`/`sem`/`msg*` entries of
    /// `linux.sysctl`.
    pub ipc: crate::kernel::ipc::Limits,
    /// `process.terminal` (with `consoleSize`, if given): the guest's stdio is a terminal
    /// whose host master goes to `--console-socket` (`oci::console`).
    pub terminal: Option<super::console::Size>,
}

impl Launch {
    /// The sandbox request: confined, the environment exactly `process.env`.
    pub fn request(&self) -> DoRequest {
        let mut user = Creds::of(self.uid, self.gid);
        user.groups = self.groups.clone();
        user.caps = self.caps;
        DoRequest {
            extra_fds: Vec::new(),
            root: self.root.clone(),
            root_writes: self.root_writes,
            strace: false,
            confine: true,
            network: self.network.clone(),
            cwd: Some(self.cwd.as_bytes().to_vec()),
            inherit_env: false,
            env: self.env.clone(),
            user: Some(user),
            umask: self.umask,
            read_only_root: self.read_only_root,
            signals_to_init: true,
            hostname: self.hostname.clone(),
            memory: self.memory.unwrap_or_else(crate::run::default_memory),
            mounts: self.mounts.clone(),
            rlimits: self.rlimits.clone(),
            seccomp: self.seccomp.clone(),
            sysctls: self.sysctls.clone(),
            ipc: self.ipc,
            commit_limit: Some(crate::run::default_memory()),
            limits: None,
            argv: self.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        }
    }
}

/// A loaded bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The bundle directory, absolute.
    pub dir: PathBuf,
    pub launch: Launch,
    /// `linux.cgroupsPath` and `linux.resources` (`oci::cgroup`).
    pub cgroup: super::cgroup::Config,
}

impl Bundle {
    /// Reads `DIR/config.json` and maps it (see the module docs).
    pub fn load(dir: &Path) -> Result<Bundle, OciError> {
        let dir = std::path::absolute(dir)
            .map_err(|e| error(format!("bundle {}: {e}", dir.display())))?;
        let spec = read_config(&dir.join("config.json"))?;
        let launch = map(&spec, &dir)?;
        let cgroup = super::cgroup::Config::of(&spec)?;
        Ok(Bundle {
            dir,
            launch,
            cgroup,
        })
    }
}

/// Parses a `config.json`: a regular file (opened without blocking, so a FIFO put there
/// can't hang the runtime) of at most [`MAX_CONFIG`] bytes.
pub fn read_config(path: &Path) -> Result<Spec, OciError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| error(format!("{shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| error(format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(error(format!("{shown}: not a regular file")));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(format!("{shown}: {e}")))?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(error(format!(
            "{shown}: larger than {} MiB: not a runtime configuration",
            MAX_CONFIG >> 20
        )));
    }
    parse_without_unknown_caps(&bytes, Some("process")).map_err(|e| error(format!("{shown}: {e}")))
}

/// Parses a config (or, `process` None, a `process.json`) as runc takes it: a capability
/// name this kernel doesn't know is left out with a warning (oci-spec's types would refuse
/// the whole file). Errors are the plain parse's.
pub fn parse_without_unknown_caps<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    process: Option<&str>,
) -> Result<T, serde_json::Error> {
    let first = match serde_json::from_slice(bytes) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(first);
    };
    let p = match process {
        Some(key) => value.get_mut(key),
        None => Some(&mut value),
    };
    let mut dropped = Vec::new();
    if let Some(sets) = p.and_then(|p| p.get_mut("capabilities")) {
        for set in [
            "bounding",
            "effective",
            "inheritable",
            "permitted",
            "ambient",
        ] {
            if let Some(serde_json::Value::Array(names)) = sets.get_mut(set) {
                names.retain(|n| {
                    let known = n
                        .as_str()
                        .and_then(snare_abi::caps::Cap::from_name)
                        .is_some();
                    if !known {
                        dropped.push(n.to_string());
                    }
                    known
                });
            }
        }
    }
    if dropped.is_empty() {
        return Err(first);
    }
    let parsed = serde_json::from_value(value).map_err(|_| first)?;
    tracing::warn!(
        "ignoring unknown or unavailable capabilities: {}",
        dropped.join(", ")
    );
    Ok(parsed)
}

/// The capability state of an OCI `process` as runc leaves it just before it execs the
/// program: the five sets named (none without `capabilities`: everything empty, the
/// bounding set too, as runc), no_new_privs from `noNewPrivileges`. The exec then
/// transforms them as Linux does (`kernel::caps::exec_creds`).
pub fn caps_of(process: &oci_spec::runtime::Process) -> crate::kernel::caps::CapSets {
    use crate::kernel::caps::CapSets;
    let mask = |set: &Option<oci_spec::runtime::Capabilities>| {
        set.iter().flatten().fold(0u64, |m, c| {
            let name = serde_json::to_value(c).ok();
            let cap = name
                .as_ref()
                .and_then(|n| n.as_str())
                .and_then(snare_abi::caps::Cap::from_name);
            m | cap.map_or(0, |c| c.bit())
        })
    };
    let mut caps = match process.capabilities() {
        Some(c) => CapSets {
            bounding: mask(c.bounding()),
            effective: mask(c.effective()),
            inheritable: mask(c.inheritable()),
            permitted: mask(c.permitted()),
            ambient: mask(c.ambient()),
            ..CapSets::none()
        },
        None => CapSets::none(),
    };
    caps.no_new_privs = process.no_new_privileges().unwrap_or(false);
    caps
}

/// A string of the config that reaches the guest or the host as a C string: no NUL.
fn no_nul<'a>(field: &str, text: &'a str) -> Result<&'a str, OciError> {
    match text.contains('\0') {
        true => Err(error(format!("{field}: contains a NUL byte"))),
        false => Ok(text),
    }
}

/// A path of the config as text without NUL bytes.
fn path_text<'a>(field: &str, path: &'a Path) -> Result<&'a str, OciError> {
    let text = path
        .to_str()
        .ok_or_else(|| error(format!("{field}: not UTF-8")))?;
    no_nul(field, text)
}

/// An id of `process.user`: `-1` (4294967295) means "no id" to the kernel.
fn id(field: &str, id: u32) -> Result<u32, OciError> {
    match id {
        u32::MAX => Err(error(format!("{field}: invalid id {id}"))),
        id => Ok(id),
    }
}

/// Maps a parsed config to a [`Launch`]; `dir` (absolute) is the bundle's directory.
pub fn map(spec: &Spec, dir: &Path) -> Result<Launch, OciError> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| error("config.json: no \"root\": the container needs a root file system"))?;
    let root_text = path_text("root.path", root.path())?;
    if root_text.is_empty() {
        return Err(error("root.path: empty"));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| error("config.json: no \"process\": nothing to run"))?;
    let terminal = match process.terminal() {
        Some(true) => Some(super::console::Size::of(process.console_size().as_ref())?),
        _ => None,
    };
    let args: Vec<String> = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(error("process.args: empty: nothing to run"));
    }
    for a in &args {
        no_nul("process.args", a)?;
    }
    let mut env = Vec::new();
    for entry in process.env().iter().flatten() {
        no_nul("process.env", entry)?;
        match entry.split_once('=') {
            Some((k, v)) if !k.is_empty() => env.push((k.to_owned(), v.to_owned())),
            _ => return Err(error(format!("process.env: \"{entry}\" is not KEY=VALUE"))),
        }
    }
    let cwd = path_text("process.cwd", process.cwd())?;
    if !cwd.starts_with('/') {
        return Err(error(format!(
            "process.cwd: \"{cwd}\" is not an absolute path"
        )));
    }
    let user = process.user();
    let uid = id("process.user.uid", user.uid())?;
    let gid = id("process.user.gid", user.gid())?;
    let groups = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|&g| id("process.user.additionalGids", g))
        .collect::<Result<Vec<u32>, _>>()?;
    let umask = match user.umask() {
        None => 0o022,
        Some(m) if m <= 0o777 => m,
        Some(m) => return Err(error(format!("process.user.umask: {m:o} is not a umask"))),
    };
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if let Some(mount) = map_mount(i, m, dir)? {
            mounts.push(mount);
        }
    }
    let linux = spec.linux().as_ref();
    let network = match linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == LinuxNamespaceType::Network))
    {
        None => Network::Host,
        Some(n) => match n.path() {
            None => Network::None,
            Some(p) => {
                let text = path_text("linux.namespaces[network].path", p)?;
                if !text.starts_with('/') {
                    return Err(error(format!(
                        "linux.namespaces[network].path: \"{text}\" is not an absolute path"
                    )));
                }
                Network::Join(p.clone())
            }
        },
    };
    // After the mounts, as runc: the read-only paths, then the masked ones.
    for (field, list) in [
        (
            "linux.readonlyPaths",
            linux.and_then(|l| l.readonly_paths().as_ref()),
        ),
        (
            "linux.maskedPaths",
            linux.and_then(|l| l.masked_paths().as_ref()),
        ),
    ] {
        for path in list.into_iter().flatten() {
            let path = no_nul(field, path)?;
            if !path.starts_with('/') {
                return Err(error(format!(
                    "{field}: \"{path}\" is not an absolute path"
                )));
            }
            let guest = path.as_bytes().to_vec();
            mounts.push(match field {
                "linux.maskedPaths" => UserMount::Masked { guest },
                _ => UserMount::ReadOnly { guest },
            });
        }
    }
    let memory = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|&l| l > 0)
        .map(|l| (l as u64).max(crate::cli::MIN_MEMORY));
    let hostname = match spec.hostname().as_deref() {
        None | Some("") => None,
        Some(h) if h.len() > 64 => {
            return Err(error(format!("hostname: longer than 64 bytes: \"{h}\"")))
        }
        Some(h) => Some(no_nul("hostname", h)?.to_owned()),
    };
    let (sysctls, ipc) = match linux.and_then(|l| l.sysctl().as_ref()) {
        Some(m) => super::sysctl::check(m, &network)?,
        None => Default::default(),
    };
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(super::seccomp::filter)
        .transpose()?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    super::hooks::check(&hooks)?;
    let rlimits = rlimits(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(adj) = process.oom_score_adj() {
        tracing::debug!("process.oomScoreAdj {adj}: accepted, not applied");
    }
    let annotations = spec.annotations().clone().unwrap_or_default();
    Ok(Launch {
        root: dir.join(root.path()),
        read_only_root: root.readonly().unwrap_or(false),
        root_writes: super::rootfs::root_writes(&annotations)?,
        args,
        env,
        cwd: cwd.to_owned(),
        uid,
        gid,
        groups,
        umask,
        caps: caps_of(process),
        network,
        mounts,
        hostname,
        memory,
        rlimits,
        annotations,
        hooks,
        seccomp,
        sysctls,
        ipc,
        terminal,
    })
}

/// `process.rlimits` as (resource, soft, hard): each type once, the soft limit at most the
/// hard one (setrlimit's EINVAL), RLIMIT_NOFILE at most Linux's `fs.nr_open` default (EPERM
/// under Linux). The guest init starts with them; the Sentry enforces NOFILE, FSIZE, AS
/// and MSGQUEUE (`kernel::rlimits`) and reports the others.
pub(super) fn rlimits(
    list: &[oci_spec::runtime::PosixRlimit],
) -> Result<Vec<(u32, u64, u64)>, OciError> {
    use snare_abi::file::RLIMIT_NOFILE;
    let mut out: Vec<(u32, u64, u64)> = Vec::new();
    for r in list {
        let name = r.typ().to_string();
        let resource = match r.typ() {
            PosixRlimitType::RlimitCpu => 0,
            PosixRlimitType::RlimitFsize => 1,
            PosixRlimitType::RlimitData => 2,
            PosixRlimitType::RlimitStack => 3,
            PosixRlimitType::RlimitCore => 4,
            PosixRlimitType::RlimitRss => 5,
            PosixRlimitType::RlimitNproc => 6,
            PosixRlimitType::RlimitNofile => 7,
            PosixRlimitType::RlimitMemlock => 8,
            PosixRlimitType::RlimitAs => 9,
            PosixRlimitType::RlimitLocks => 10,
            PosixRlimitType::RlimitSigpending => 11,
            PosixRlimitType::RlimitMsgqueue => 12,
            PosixRlimitType::RlimitNice => 13,
            PosixRlimitType::RlimitRtprio => 14,
            PosixRlimitType::RlimitRttime => 15,
        };
        let (soft, hard) = (r.soft(), r.hard());
        let field = format!("process.rlimits {name}");
        if out.iter().any(|&(res, _, _)| res == resource) {
            return Err(error(format!("{field}: given twice")));
        }
        if soft > hard {
            return Err(error(format!(
                "{field}: soft limit {soft} above the hard limit {hard}"
            )));
        }
        if resource == RLIMIT_NOFILE && hard > snare_abi::file::NR_OPEN {
            return Err(error(format!(
                "{field}: hard limit {hard} above {} (fs.nr_open)",
                snare_abi::file::NR_OPEN
            )));
        }
        out.push((resource, soft, hard));
    }
    Ok(out)
}

/// File systems the sandbox has of its own: a mount of one of these types is accepted and
/// left to the Sentry's.
const PROVIDED: &[&str] = &["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"];

/// One entry of `mounts` (the `i`-th): a bind becomes a volume, a tmpfs a tmpfs, what the
/// sandbox provides itself (and a tmpfs over its `/dev`) nothing.
fn map_mount(i: usize, m: &Mount, dir: &Path) -> Result<Option<UserMount>, OciError> {
    let field = format!("mounts[{i}]");
    let dest = path_text(&format!("{field}.destination"), m.destination())?;
    if !dest.starts_with('/') {
        return Err(error(format!(
            "{field}.destination: \"{dest}\" is not an absolute path"
        )));
    }
    let options: Vec<&str> = m.options().iter().flatten().map(String::as_str).collect();
    let typ = m.typ().as_deref().unwrap_or("none");
    let bind = typ == "bind" || options.iter().any(|o| matches!(*o, "bind" | "rbind"));
    if bind {
        let source = m
            .source()
            .as_ref()
            .ok_or_else(|| error(format!("{field}: a bind mount without a source")))?;
        path_text(&format!("{field}.source"), source)?;
        return Ok(Some(UserMount::Volume {
            host: dir.join(source),
            guest: dest.as_bytes().to_vec(),
            read_only: options.contains(&"ro"),
        }));
    }
    match typ {
        "tmpfs" if dest == "/dev" => {
            tracing::debug!("{field}: tmpfs at /dev: the sandbox has its own /dev");
            Ok(None)
        }
        "tmpfs" => {
            let opts = TmpfsOpts::parse(&options.join(",")).map_err(|_| {
                error(format!(
                    "{field}: tmpfs options \"{}\" not understood",
                    options.join(",")
                ))
            })?;
            Ok(Some(UserMount::Tmpfs {
                guest: dest.as_bytes().to_vec(),
                opts,
            }))
        }
        t if PROVIDED.contains(&t) => {
            tracing::debug!("{field}: {t} at {dest}: the sandbox provides its own");
            Ok(None)
        }
        t => Err(error(format!(
            "{field}: mounts of type \"{t}\" (at {dest}) are not supported"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("test config parses")
    }

    /// A minimal config with `extra` merged into its top level.
    fn config(process: &str, extra: &str) -> Spec {
        spec(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
               "process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/",{process}"env":["PATH=/bin","A=b=c"]}}{extra}}}"#
        ))
    }

    fn err(s: &Spec) -> String {
        match map(s, Path::new("/b")) {
            Ok(l) => panic!("mapped: {l:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn minimal() {
        let l = map(&config("", ""), Path::new("/b")).expect("maps");
        assert_eq!(l.root, PathBuf::from("/b/rootfs"));
        assert!(!l.read_only_root);
        assert_eq!(l.args, ["sh"]);
        assert_eq!(
            l.env,
            [("PATH".into(), "/bin".into()), ("A".into(), "b=c".into())]
        );
        assert_eq!((l.uid, l.gid, l.umask), (0, 0, 0o022));
        assert_eq!(l.network, Network::Host);
        assert!(l.mounts.is_empty());
        assert_eq!(l.hostname, None);
        let req = l.request();
        assert!(req.confine && !req.inherit_env);
        assert_eq!(req.argv, [b"sh".to_vec()]);
    }

    #[test]
    fn absolute_root_and_user() {
        let s = spec(
            r#"{"root":{"path":"/srv/r","readonly":true},
                "process":{"user":{"uid":1000,"gid":100,"umask":63,"additionalGids":[5]},
                           "args":["id"],"cwd":"/tmp"}}"#,
        );
        let l = map(&s, Path::new("/b")).expect("maps");
        assert_eq!(l.root, PathBuf::from("/srv/r"));
        assert!(l.read_only_root);
        assert_eq!((l.uid, l.gid, l.umask), (1000, 100, 0o077));
        assert_eq!(l.groups, [5]);
        assert_eq!(l.request().user.map(|c| c.euid), Some(1000));
    }

    #[test]
    fn refusals() {
        assert!(err(&spec(r#"{"process":{"user":{},"args":["a"],"cwd":"/"}}"#)).contains("root"));
        assert!(err(&spec(r#"{"root":{"path":"r"}}"#)).contains("process"));
        assert!(err(&spec(
            r#"{"root":{"path":""},"process":{"user":{},"args":["a"],"cwd":"/"}}"#
        ))
        .contains("root.path"));
        assert!(err(&spec(
            r#"{"root":{"path":"r"},"process":{"user":{},"cwd":"/"}}"#
        ))
        .contains("process.args"));
        assert!(err(&config(
            r#""terminal":true,"consoleSize":{"height":70000,"width":80},"#,
            ""
        ))
        .contains("consoleSize"));
        let s = spec(r#"{"root":{"path":"r"},"process":{"user":{},"args":["a"],"cwd":"tmp"}}"#);
        assert!(err(&s).contains("process.cwd"));
        let s = spec(
            r#"{"root":{"path":"r"},"process":{"user":{"uid":4294967295},"args":["a"],"cwd":"/"}}"#,
        );
        assert!(err(&s).contains("uid"));
        let s =
            spec(r#"{"root":{"path":"r"},"process":{"user":{},"args":["a\u0000b"],"cwd":"/"}}"#);
        assert!(err(&s).contains("NUL"));
        let s = spec(
            r#"{"root":{"path":"r"},"process":{"user":{},"args":["a"],"cwd":"/","env":["=x"]}}"#,
        );
        assert!(err(&s).contains("process.env"));
        let s = config(
            "",
            r#","mounts":[{"destination":"/x","type":"ext4","source":"/dev/sda"}]"#,
        );
        assert!(err(&s).contains("ext4"));
        let long = "h".repeat(65);
        assert!(err(&config("", &format!(r#","hostname":"{long}""#))).contains("hostname"));
        let s = config("", r#","mounts":[{"destination":"x","type":"tmpfs"}]"#);
        assert!(err(&s).contains("absolute"));
        let s = config("", r#","linux":{"maskedPaths":["proc/kcore"]}"#);
        assert!(err(&s).contains("linux.maskedPaths"));
        let s = config(
            "",
            r#","mounts":[{"destination":"/x","type":"tmpfs","options":["bogus"]}]"#,
        );
        assert!(err(&s).contains("tmpfs options"));
    }

    #[test]
    fn wrong_shapes_are_parse_errors() {
        for bad in [
            "",
            "not json",
            r#"{"process":{"user":{"uid":-1},"args":["a"],"cwd":"/"}}"#,
            r#"{"process":{"user":{"uid":"root"},"args":["a"],"cwd":"/"}}"#,
            r#"{"root":{"path":5}}"#,
            r#"{"process":{"user":{},"args":["a"]}}"#,
        ] {
            assert!(serde_json::from_str::<Spec>(bad).is_err(), "{bad}");
        }
        // serde reads a struct from an array of its fields too: an empty one is a config
        // with nothing in it, which the mapping refuses.
        assert!(err(&spec("[]")).contains("root"));
        // Deep nesting stops at serde_json's recursion limit, without a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(serde_json::from_str::<Spec>(&deep).is_err());
    }

    #[test]
    fn mounts_and_network() {
        let s = config(
            "",
            r#","mounts":[
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755","size=65536k"]},
                {"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","mode=1777","size=67108864"]},
                {"destination":"/data","type":"bind","source":"data","options":["rbind","ro"]},
                {"destination":"/etc/hosts","type":"none","source":"/h","options":["bind"]},
                {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"}],
               "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/n"}],
                        "resources":{"memory":{"limit":268435456}}}"#,
        );
        let l = map(&s, Path::new("/b")).expect("maps");
        assert_eq!(l.network, Network::Join(PathBuf::from("/run/netns/n")));
        assert_eq!(l.memory, Some(256 << 20));
        assert_eq!(
            l.mounts,
            [
                UserMount::Tmpfs {
                    guest: b"/dev/shm".to_vec(),
                    opts: TmpfsOpts {
                        size: Some(67108864),
                        nr_inodes: None,
                        mode: Some(0o1777)
                    }
                },
                UserMount::Volume {
                    host: PathBuf::from("/b/data"),
                    guest: b"/data".to_vec(),
                    read_only: true
                },
                UserMount::Volume {
                    host: PathBuf::from("/h"),
                    guest: b"/etc/hosts".to_vec(),
                    read_only: false
                },
            ]
        );
        let s = config("", r#","linux":{"namespaces":[{"type":"network"}]}"#);
        assert_eq!(
            map(&s, Path::new("/b")).expect("maps").network,
            Network::None
        );
    }

    #[test]
    fn rlimits_checked() {
        let rl = |json: &str| config(&format!(r#""rlimits":[{json}],"#), "");
        let l = map(
            &rl(r#"{"type":"RLIMIT_NOFILE","soft":321,"hard":4096},
                   {"type":"RLIMIT_FSIZE","soft":1024,"hard":2048}"#),
            Path::new("/b"),
        )
        .expect("maps");
        assert_eq!(l.rlimits, [(7, 321, 4096), (1, 1024, 2048)]);
        assert_eq!(l.request().rlimits, l.rlimits);
        assert!(err(&rl(r#"{"type":"RLIMIT_AS","soft":2,"hard":1}"#)).contains("soft limit"));
        let twice =
            r#"{"type":"RLIMIT_AS","soft":1,"hard":1},{"type":"RLIMIT_AS","soft":1,"hard":1}"#;
        assert!(err(&rl(twice)).contains("twice"));
        let huge = r#"{"type":"RLIMIT_NOFILE","soft":1,"hard":99999999999}"#;
        assert!(err(&rl(huge)).contains("nr_open"));
        let bad = r#"{"ociVersion":"1","root":{"path":"r"},"process":{"user":{},"args":["a"],"cwd":"/","rlimits":[{"type":"RLIMIT_BOGUS","soft":1,"hard":1}]}}"#;
        assert!(serde_json::from_str::<Spec>(bad).is_err());
    }

    #[test]
    fn docker_sample_maps() {
        let text = include_str!("../../tests/data/docker-sample-config.json");
        let l = map(&spec(text), Path::new("/b")).expect("Docker's config maps");
        assert_eq!(l.args, ["sleep", "1000"]);
        let n = |want: fn(&UserMount) -> bool| l.mounts.iter().filter(|m| want(m)).count();
        assert_eq!(n(|m| matches!(m, UserMount::ReadOnly { .. })), 5);
        assert_eq!(n(|m| matches!(m, UserMount::Masked { .. })), 10);
        assert_eq!(
            l.mounts.last(),
            Some(&UserMount::Masked {
                guest: b"/sys/firmware".to_vec()
            })
        );
        assert_eq!(l.hostname.as_deref(), Some("48477a225c1e"));
        assert_eq!(super::super::hooks::Stage::Prestart.of(&l.hooks).len(), 1);
        assert_eq!(l.network, Network::None);
    }
}
