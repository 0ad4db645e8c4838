//! Parsing the `snare` command line into a [`Command`] and its [`GlobalArgs`].
//!
//! Pure: no I/O, no exit. `main` prints a [`UsageError`] followed by [`USAGE`] and exits with
//! status 2. Options take their value as `--opt value` or `--opt=value`; arguments are
//! [`OsString`]s throughout, so non-UTF-8 paths and guest arguments survive.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::kernel::mounts::{RootWrites, TmpfsOpts, UserMount};

/// The usage text `snare --help` prints (and `main` prints after a [`UsageError`]).
pub const USAGE: &str = "\
Usage: snare [GLOBAL FLAGS] COMMAND [ARGS]

Commands:
  do [FLAGS] [--] CMD [ARG...]  Run CMD in a fresh sandbox with stdio passed through;
                                exit with its status
  syscalls                      Print the syscall support table
  seccomp-rules                 Print the Sentry's host syscall allowlist (its seccomp
                                filter), with the reason for each rule
  version                       Print the version
  help                          Print this help

OCI runtime commands (as runc's; Docker and containerd call them; `snare COMMAND --help`):
  create [--bundle DIR] [--pid-file F] ID
                                Set container ID up from the bundle; it waits for start
  start ID                      Start a created container's process
  state ID                      Print its state (JSON)
  kill [--all] ID [SIGNAL]      Signal it (default TERM)
  delete [--force] ID           Remove it (--force: kill it first)
  run [--bundle DIR] [--detach] ID
                                create + start (+ wait, delete, and exit with its status)
  ps --format json ID           Host pids of its processes
  spec [--bundle DIR]           Write a starting config.json
  features                      Print what the runtime supports (JSON)
  install [--config F] [--runtime NAME] [-- RUNTIME_ARGS...]
                                Add snare to Docker's daemon.json (default
                                /etc/docker/daemon.json, name snare), keeping the rest
  uninstall [--config F] [--runtime NAME]
                                Take it out again
  pause ID, resume ID            Freeze it, thaw it
  update --resources FILE|- ID  New limits (LinuxResources JSON) for a live container
  events [--stats] [--interval D] ID
                                Its resource use (JSON lines), once or every D

Flags of `do` (they end at `--` or at CMD):
  --root DIR              Root file system of the sandbox (default: /)
  --write-root            The guest's changes to the root reach DIR (as a volume's do),
                          instead of staying in the sandbox's memory; needs --root DIR
  --network host|none|PATH
                          Share the host's network; have none (a namespace of the
                          sandbox's own with only loopback; the default); or join the
                          network namespace at PATH (/run/netns/NAME; needs root)
  --strace                Log every guest syscall, decoded
  --no-confine            Debugging only: run the Sentry without its namespaces,
                          empty root, uid drop and seccomp filter; prints a warning
  --debug-log FILE        Write the Sentry's debug log to FILE
  --cwd DIR               Working directory of CMD inside the sandbox
  --env KEY=VALUE         Set an environment variable of CMD (repeatable)
  --volume HOST:GUEST[:ro]
                          Bind the host directory or file HOST at GUEST (repeatable):
                          writes there reach the host (everywhere else they stay in
                          the sandbox's memory); :ro makes it read-only
  --tmpfs PATH[:OPTS]     Mount an empty tmpfs at PATH (repeatable); OPTS as mount's:
                          size=64m,nr_inodes=10k,mode=1777
  --memory SIZE           Most memory the sandbox's processes, page cache and tmpfs pages
                          may hold (bytes, or with K, M, G, T: 512M, 2G). Past it the
                          largest process is killed (SIGKILL), as Linux's OOM killer does.
                          Default: the host's MemTotal, capped at 64G: more could never be
                          backed, and the host's own OOM killer would pick the Sentry

Global flags (before COMMAND; Docker and containerd pass these):
  --root DIR              Directory for container state (default: /run/snare)
  --log FILE              Log file
  --log-format text|json  Log format (default: text)
  --debug                 Log debug messages
  --systemd-cgroup        Manage cgroups through systemd
  -h, --help              Print this help
  -v, --version           Print the version

Options take their value as `--opt VALUE` or `--opt=VALUE`.
";

/// What to do: the subcommand and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `snare do [FLAGS] [--] CMD ARGS…`: run one command in a fresh sandbox.
    Do(DoArgs),
    /// `snare syscalls`: print the syscall support table.
    Syscalls,
    /// `snare seccomp-rules`: print the Sentry's seccomp allowlist.
    SeccompRules,
    /// `snare --version`, `snare -v`, `snare version`.
    Version,
    /// `snare --help`, `snare -h`, `snare help`, or `--help` after a subcommand.
    Help,
    /// An OCI runtime subcommand (`create`, `start`, …; `cli::runtime::COMMANDS`): its
    /// name and the words after it, for `cli::runtime` to parse.
    Runtime(Vec<OsString>),
}

/// The arguments of `snare do`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoArgs {
    /// `--root DIR`: the sandbox's root file system (default `/`).
    pub root: PathBuf,
    /// `--write-root`: the guest's changes to the root reach `root` (else they stay in
    /// the sandbox's memory).
    pub root_writes: RootWrites,
    /// `--network host|none|PATH` (default [`Network::None`]).
    pub network: Network,
    /// `--strace`: log every guest syscall, decoded.
    pub strace: bool,
    /// `--no-confine`: skip the Sentry's confinement (debugging only).
    pub no_confine: bool,
    /// `--debug-log FILE`: where the Sentry's debug log goes.
    pub debug_log: Option<PathBuf>,
    /// `--cwd DIR`: the command's working directory inside the sandbox.
    pub cwd: Option<PathBuf>,
    /// `--env KEY=VALUE`, in command-line order (a later one for the same key wins).
    pub env: Vec<(String, String)>,
    /// `--memory SIZE` in bytes (`None`: the default, chosen by the caller).
    pub memory: Option<u64>,
    /// `--volume` and `--tmpfs`, in command-line order.
    pub mounts: Vec<UserMount>,
    /// The command and its arguments; never empty.
    pub argv: Vec<OsString>,
}

/// The sandbox's network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Network {
    /// The host's network stack, shared.
    Host,
    /// No network: a network namespace of the sandbox's own, with only its loopback.
    #[default]
    None,
    /// The network namespace at this path (`/run/netns/NAME`, `/proc/PID/ns/net`), as the
    /// OCI runtime is given one.
    Join(PathBuf),
}

/// The format of the log file (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (as containerd asks for).
    Json,
}

/// Flags given before the subcommand, as Docker and containerd pass them to an OCI runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GlobalArgs {
    /// `--root DIR`: the directory for container state.
    pub root: Option<PathBuf>,
    /// `--log FILE`.
    pub log: Option<PathBuf>,
    /// `--log-format text|json`.
    pub log_format: LogFormat,
    /// `--debug`.
    pub debug: bool,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
}

/// A command line `snare` cannot make sense of. `Display` is the message alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses the command line `args`, without `argv[0]`.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
) -> Result<(GlobalArgs, Command), UsageError> {
    let mut words = Words::new(args);
    let mut global = GlobalArgs::default();
    let command = loop {
        let Some(word) = words.next() else {
            return Err(usage("missing command"));
        };
        let Some(flag) = Flag::parse(&word) else {
            break word;
        };
        match flag.name.as_str() {
            "--root" => global.root = Some(words.path(&flag)?),
            "--log" => global.log = Some(words.path(&flag)?),
            "--log-format" => {
                global.log_format = match words.value(&flag)?.as_bytes() {
                    b"text" => LogFormat::Text,
                    b"json" => LogFormat::Json,
                    other => return Err(bad_value(&flag, other, "text or json")),
                }
            }
            "--debug" => global.debug = flag.switch()?,
            "--systemd-cgroup" => global.systemd_cgroup = flag.switch()?,
            "--help" | "-h" => {
                flag.switch()?;
                return Ok((global, Command::Help));
            }
            "--version" | "-v" => {
                flag.switch()?;
                return Ok((global, Command::Version));
            }
            _ => return Err(flag.unknown()),
        }
    };
    if super::runtime::COMMANDS
        .iter()
        .any(|c| c.as_bytes() == command.as_bytes())
    {
        let mut rest = vec![command];
        rest.extend(words.by_ref());
        return Ok((global, Command::Runtime(rest)));
    }
    let command = match command.as_bytes() {
        b"do" => parse_do(&mut words)?,
        b"syscalls" => no_more(&mut words, Command::Syscalls)?,
        b"seccomp-rules" => no_more(&mut words, Command::SeccompRules)?,
        b"version" => no_more(&mut words, Command::Version)?,
        b"help" => no_more(&mut words, Command::Help)?,
        other => {
            return Err(usage(format!(
                "unknown command {}",
                String::from_utf8_lossy(other)
            )))
        }
    };
    Ok((global, command))
}

/// The flags and command of `snare do`.
fn parse_do(words: &mut Words) -> Result<Command, UsageError> {
    let mut root = PathBuf::from("/");
    let mut network = Network::default();
    let mut strace = false;
    let mut no_confine = false;
    let mut root_writes = RootWrites::Memory;
    let mut debug_log = None;
    let mut cwd = None;
    let mut env: Vec<(String, String)> = Vec::new();
    let mut memory = None;
    let mut mounts = Vec::new();
    let mut argv = Vec::new();
    while let Some(word) = words.next() {
        if word.as_bytes() == b"--" {
            break;
        }
        let Some(flag) = Flag::parse(&word) else {
            // The command: it and everything after it are the guest's.
            argv.push(word);
            break;
        };
        match flag.name.as_str() {
            "--root" => root = words.path(&flag)?,
            "--write-root" => {
                flag.switch()?;
                root_writes = RootWrites::Host;
            }
            "--network" => {
                network = match words.value(&flag)?.as_bytes() {
                    b"host" => Network::Host,
                    b"none" => Network::None,
                    p if p.starts_with(b"/") => Network::Join(PathBuf::from(OsStr::from_bytes(p))),
                    other => {
                        return Err(bad_value(
                            &flag,
                            other,
                            "host, none or a network namespace's path",
                        ))
                    }
                }
            }
            "--strace" => strace = flag.switch()?,
            "--no-confine" => no_confine = flag.switch()?,
            "--debug-log" => debug_log = Some(words.path(&flag)?),
            "--cwd" => cwd = Some(words.path(&flag)?),
            "--env" => env.push(parse_env(&flag, words.value(&flag)?)?),
            "--memory" => {
                let value = words.value(&flag)?;
                memory = Some(parse_size(value.as_bytes()).ok_or_else(|| {
                    bad_value(
                        &flag,
                        value.as_bytes(),
                        "a size like 512M or 2G, at least 16M",
                    )
                })?);
            }
            "--volume" => mounts.push(parse_volume(&flag, words.value(&flag)?)?),
            "--tmpfs" => mounts.push(parse_tmpfs(&flag, words.value(&flag)?)?),
            "--help" | "-h" => {
                flag.switch()?;
                return Ok(Command::Help);
            }
            _ => return Err(flag.unknown()),
        }
    }
    argv.extend(words.by_ref());
    if argv.is_empty() {
        return Err(usage("do: missing command to run"));
    }
    if root_writes == RootWrites::Host && root == Path::new("/") {
        return Err(usage(
            "do: --write-root needs --root DIR: the host's own root is never written",
        ));
    }
    Ok(Command::Do(DoArgs {
        root,
        root_writes,
        network,
        strace,
        no_confine,
        debug_log,
        cwd,
        env,
        memory,
        mounts,
        argv,
    }))
}

/// `HOST:GUEST[:ro|:rw]`, both absolute.
fn parse_volume(flag: &Flag, value: OsString) -> Result<UserMount, UsageError> {
    let bytes = value.as_bytes();
    let expected = "HOST:GUEST[:ro], both absolute paths";
    let mut parts: Vec<&[u8]> = bytes.split(|&b| b == b':').collect();
    let read_only = match parts.last() {
        Some(&b"ro") if parts.len() == 3 => true,
        Some(&b"rw") if parts.len() == 3 => false,
        _ if parts.len() == 2 => false,
        _ => return Err(bad_value(flag, bytes, expected)),
    };
    parts.truncate(2);
    let (host, guest) = (parts[0], parts[1]);
    if !host.starts_with(b"/") || !guest.starts_with(b"/") {
        return Err(bad_value(flag, bytes, expected));
    }
    Ok(UserMount::Volume {
        host: PathBuf::from(OsString::from_vec(host.to_vec())),
        guest: guest.to_vec(),
        read_only,
    })
}

/// `PATH[:OPTS]`, the path absolute, the options as `mount -t tmpfs -o` takes them.
fn parse_tmpfs(flag: &Flag, value: OsString) -> Result<UserMount, UsageError> {
    let bytes = value.as_bytes();
    let expected = "PATH[:size=…,nr_inodes=…,mode=…], the path absolute";
    let (guest, opts) = match bytes.iter().position(|&b| b == b':') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &b""[..]),
    };
    let opts = std::str::from_utf8(opts)
        .ok()
        .and_then(|o| TmpfsOpts::parse(o).ok())
        .filter(|_| guest.starts_with(b"/"))
        .ok_or_else(|| bad_value(flag, bytes, expected))?;
    Ok(UserMount::Tmpfs {
        guest: guest.to_vec(),
        opts,
    })
}

/// Smallest `--memory`: below it not even a shell starts.
pub const MIN_MEMORY: u64 = 16 << 20;

/// A size: decimal bytes with an optional binary suffix (`K`, `M`, `G`, `T`, either case, an
/// optional trailing `B` or `iB`), at least [`MIN_MEMORY`]. `None` if malformed, too small or
/// overflowing.
pub fn parse_size(text: &[u8]) -> Option<u64> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, unit) = text.split_at(digits);
    let n: u64 = std::str::from_utf8(num).ok()?.parse().ok()?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit
        .strip_suffix(b"IB")
        .or_else(|| unit.strip_suffix(b"B").filter(|u| !u.is_empty()))
        .unwrap_or(&unit);
    let shift = match unit {
        b"" => 0,
        b"K" => 10,
        b"M" => 20,
        b"G" => 30,
        b"T" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift).filter(|&b| b >= MIN_MEMORY)
}

/// `KEY=VALUE`, both UTF-8, the key non-empty and without `=`.
fn parse_env(flag: &Flag, value: OsString) -> Result<(String, String), UsageError> {
    let text = value.into_string().map_err(|v| {
        usage(format!(
            "{}: {} is not UTF-8",
            flag.name,
            v.to_string_lossy()
        ))
    })?;
    match text.split_once('=') {
        Some((key, val)) if !key.is_empty() => Ok((key.to_owned(), val.to_owned())),
        _ => Err(usage(format!(
            "{} expects KEY=VALUE, got \"{text}\"",
            flag.name
        ))),
    }
}

/// `command` if no argument follows (bar `--help`, which asks for help).
fn no_more(words: &mut Words, command: Command) -> Result<Command, UsageError> {
    match words.next() {
        None => Ok(command),
        Some(word) if matches!(word.as_bytes(), b"--help" | b"-h") => Ok(Command::Help),
        Some(word) => Err(usage(format!(
            "unexpected argument {}",
            word.to_string_lossy()
        ))),
    }
}

/// One word that looks like a flag: its name, and the value given with `=` if any.
struct Flag {
    /// `--root`, `-h`: always UTF-8 (a non-UTF-8 name is reported as unknown with its lossy
    /// spelling).
    name: String,
    /// What followed `=` in `--opt=value`.
    inline: Option<OsString>,
}

impl Flag {
    /// `None` if `word` is not a flag: it does not start with `-`, or is `-` alone. (`--` is
    /// left to the caller.)
    fn parse(word: &OsStr) -> Option<Flag> {
        let bytes = word.as_bytes();
        if bytes.len() < 2 || bytes[0] != b'-' || bytes == b"--" {
            return None;
        }
        let (name, inline) = match (
            bytes.starts_with(b"--"),
            bytes.iter().position(|&b| b == b'='),
        ) {
            (true, Some(eq)) => (
                &bytes[..eq],
                Some(OsStr::from_bytes(&bytes[eq + 1..]).to_owned()),
            ),
            _ => (bytes, None),
        };
        Some(Flag {
            name: String::from_utf8_lossy(name).into_owned(),
            inline,
        })
    }

    /// For a flag without a value: `true`, or an error if one was given with `=`.
    fn switch(&self) -> Result<bool, UsageError> {
        match self.inline {
            None => Ok(true),
            Some(_) => Err(usage(format!("flag {} takes no value", self.name))),
        }
    }

    fn unknown(&self) -> UsageError {
        usage(format!("unknown flag {}", self.name))
    }
}

/// The words of the command line, consumed front to back.
struct Words {
    rest: std::vec::IntoIter<OsString>,
}

impl Words {
    fn new(args: impl IntoIterator<Item = OsString>) -> Words {
        Words {
            rest: args.into_iter().collect::<Vec<_>>().into_iter(),
        }
    }

    /// The value of `flag`: given with `=`, or the next word (whatever it looks like).
    fn value(&mut self, flag: &Flag) -> Result<OsString, UsageError> {
        let value = match &flag.inline {
            Some(value) => value.clone(),
            None => self
                .next()
                .ok_or_else(|| usage(format!("flag {} needs a value", flag.name)))?,
        };
        if value.is_empty() {
            return Err(usage(format!("flag {} needs a non-empty value", flag.name)));
        }
        Ok(value)
    }

    /// The value of `flag` as a path.
    fn path(&mut self, flag: &Flag) -> Result<PathBuf, UsageError> {
        self.value(flag).map(PathBuf::from)
    }
}

impl Iterator for Words {
    type Item = OsString;

    fn next(&mut self) -> Option<OsString> {
        self.rest.next()
    }
}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

fn bad_value(flag: &Flag, value: &[u8], expected: &str) -> UsageError {
    usage(format!(
        "flag {}: invalid value \"{}\" (expected {expected})",
        flag.name,
        String::from_utf8_lossy(value)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_size(b"512M"), Some(512 << 20));
        assert_eq!(parse_size(b"2G"), Some(2 << 30));
        assert_eq!(parse_size(b"2gib"), Some(2 << 30));
        assert_eq!(parse_size(b"1073741824"), Some(1 << 30));
        assert_eq!(parse_size(b"16M"), Some(16 << 20));
        for bad in [
            &b""[..],
            b"M",
            b"1X",
            b"-1G",
            b"1.5G",
            b"1M",
            b"99999999999T",
            b"B",
        ] {
            assert_eq!(parse_size(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn run(words: &[&str]) -> Result<(GlobalArgs, Command), UsageError> {
        parse(os(words))
    }

    fn command(words: &[&str]) -> Command {
        match run(words) {
            Ok((_, command)) => command,
            Err(e) => panic!("{words:?}: {e}"),
        }
    }

    fn do_args(words: &[&str]) -> DoArgs {
        match command(words) {
            Command::Do(args) => args,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn error(words: &[&str]) -> String {
        match run(words) {
            Ok(parsed) => panic!("{words:?} parsed as {parsed:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// The OCI subcommands go to `cli::runtime` whole, after the global flags, which may
    /// come in any order (Docker's `runtimeArgs` go before its own).
    #[test]
    fn runtime_commands_pass_through() {
        let words = [
            "--debug",
            "--root",
            "/run/x",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/b",
            "--root",
            "id",
        ];
        let (global, cmd) = run(&words).expect("parses");
        assert_eq!(global.root, Some(PathBuf::from("/run/x")));
        assert_eq!(global.log, Some(PathBuf::from("/b/log.json")));
        assert_eq!(global.log_format, LogFormat::Json);
        assert!(global.debug);
        assert_eq!(cmd, Command::Runtime(os(&words[7..])));
        assert_eq!(
            command(&["state", "x"]),
            Command::Runtime(os(&["state", "x"]))
        );
        assert!(error(&["--bogus", "state", "x"]).contains("--bogus"));
    }

    #[test]
    fn do_defaults() {
        assert_eq!(
            do_args(&["do", "ls"]),
            DoArgs {
                root: PathBuf::from("/"),
                root_writes: RootWrites::Memory,
                network: Network::None,
                strace: false,
                no_confine: false,
                debug_log: None,
                cwd: None,
                env: vec![],
                memory: None,
                mounts: Vec::new(),
                argv: os(&["ls"]),
            }
        );
    }

    #[test]
    fn do_all_flags_both_spellings() {
        let spaced = do_args(&[
            "do",
            "--root",
            "/srv/rootfs",
            "--write-root",
            "--network",
            "host",
            "--strace",
            "--no-confine",
            "--debug-log",
            "/tmp/d.log",
            "--cwd",
            "/work",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--",
            "sh",
            "-c",
            "echo hi",
        ]);
        let joined = do_args(&[
            "do",
            "--root=/srv/rootfs",
            "--write-root",
            "--network=host",
            "--strace",
            "--no-confine",
            "--debug-log=/tmp/d.log",
            "--cwd=/work",
            "--env=A=1",
            "--env=B=x=y",
            "--",
            "sh",
            "-c",
            "echo hi",
        ]);
        let expected = DoArgs {
            root: PathBuf::from("/srv/rootfs"),
            root_writes: RootWrites::Host,
            network: Network::Host,
            strace: true,
            no_confine: true,
            debug_log: Some(PathBuf::from("/tmp/d.log")),
            cwd: Some(PathBuf::from("/work")),
            env: vec![
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned()),
            ],
            memory: None,
            mounts: Vec::new(),
            argv: os(&["sh", "-c", "echo hi"]),
        };
        assert_eq!(spaced, expected);
        assert_eq!(joined, expected);
        assert_eq!(
            do_args(&["do", "--network", "none", "true"]).network,
            Network::None
        );
        assert_eq!(
            do_args(&["do", "--env", "E=", "true"]).env,
            vec![("E".to_owned(), String::new())]
        );
    }

    #[test]
    fn write_root_needs_a_root_of_its_own() {
        for words in [
            &["do", "--write-root", "ls"][..],
            &["do", "--root", "/", "--write-root", "ls"],
        ] {
            assert!(
                error(words).contains("--write-root needs --root DIR"),
                "{words:?}"
            );
        }
        assert!(error(&["do", "--root", "/r", "--write-root=yes", "ls"]).contains("takes no value"));
    }

    #[test]
    fn do_stops_at_the_first_word() {
        assert_eq!(do_args(&["do", "ls", "-la"]).argv, os(&["ls", "-la"]));
        // Flags after the command are the command's, even snare's own.
        let args = do_args(&["do", "--strace", "env", "--strace", "--root", "/x", "--"]);
        assert!(args.strace);
        assert_eq!(args.root, PathBuf::from("/"));
        assert_eq!(args.argv, os(&["env", "--strace", "--root", "/x", "--"]));
        // `-` alone is a word, not a flag.
        assert_eq!(do_args(&["do", "-", "x"]).argv, os(&["-", "x"]));
    }

    #[test]
    fn double_dash_ends_the_flags() {
        assert_eq!(do_args(&["do", "--", "--strace"]).argv, os(&["--strace"]));
        assert!(!do_args(&["do", "--", "--strace"]).strace);
        assert_eq!(do_args(&["do", "--", "--", "x"]).argv, os(&["--", "x"]));
        assert_eq!(do_args(&["do", "--", "-h"]).argv, os(&["-h"]));
    }

    #[test]
    fn missing_command() {
        assert_eq!(error(&["do"]), "do: missing command to run");
        assert_eq!(error(&["do", "--"]), "do: missing command to run");
        assert_eq!(error(&["do", "--strace"]), "do: missing command to run");
        assert_eq!(
            error(&["do", "--strace", "--"]),
            "do: missing command to run"
        );
        assert_eq!(error(&[]), "missing command");
        assert_eq!(error(&["--debug"]), "missing command");
    }

    #[test]
    fn unknown_flags() {
        assert_eq!(error(&["do", "--x", "ls"]), "unknown flag --x");
        assert_eq!(error(&["do", "--x=1", "ls"]), "unknown flag --x");
        assert_eq!(error(&["do", "-x", "ls"]), "unknown flag -x");
        assert_eq!(error(&["--bogus", "do", "ls"]), "unknown flag --bogus");
        // `do`'s flags are not global ones, and the other way round.
        assert_eq!(error(&["--strace", "do", "ls"]), "unknown flag --strace");
        assert_eq!(error(&["do", "--debug", "ls"]), "unknown flag --debug");
    }

    #[test]
    fn missing_and_bad_values() {
        assert_eq!(error(&["do", "--root"]), "flag --root needs a value");
        assert_eq!(error(&["do", "--cwd"]), "flag --cwd needs a value");
        assert_eq!(
            error(&["do", "--root="]),
            "flag --root needs a non-empty value"
        );
        assert_eq!(error(&["--log"]), "flag --log needs a value");
        assert_eq!(
            error(&["do", "--network", "bridge", "ls"]),
            "flag --network: invalid value \"bridge\" (expected host, none or a network namespace's path)"
        );
        assert_eq!(
            error(&["do", "--network=HOST", "ls"]),
            "flag --network: invalid value \"HOST\" (expected host, none or a network namespace's path)"
        );
        assert_eq!(
            error(&["--log-format", "xml", "syscalls"]),
            "flag --log-format: invalid value \"xml\" (expected text or json)"
        );
        assert_eq!(
            error(&["do", "--strace=yes", "ls"]),
            "flag --strace takes no value"
        );
        assert_eq!(
            error(&["--debug=1", "syscalls"]),
            "flag --debug takes no value"
        );
        assert_eq!(
            error(&["do", "--env", "NOEQUALS", "ls"]),
            "--env expects KEY=VALUE, got \"NOEQUALS\""
        );
        assert_eq!(
            error(&["do", "--env", "=v", "ls"]),
            "--env expects KEY=VALUE, got \"=v\""
        );
    }

    #[test]
    fn a_value_may_look_like_a_flag() {
        // As with getopt, the word after an option is its value, whatever it looks like.
        assert_eq!(
            do_args(&["do", "--cwd", "--strace", "ls"]).cwd,
            Some(PathBuf::from("--strace"))
        );
        assert_eq!(
            do_args(&["do", "--cwd", "-", "ls"]).cwd,
            Some(PathBuf::from("-"))
        );
    }

    #[test]
    fn later_flags_win() {
        let args = do_args(&[
            "do",
            "--root",
            "/a",
            "--root=/b",
            "--network=host",
            "--network",
            "none",
            "x",
        ]);
        assert_eq!(args.root, PathBuf::from("/b"));
        assert_eq!(args.network, Network::None);
        let args = do_args(&["do", "--network", "/run/netns/n", "x"]);
        assert_eq!(args.network, Network::Join(PathBuf::from("/run/netns/n")));
    }

    #[test]
    fn global_flags() {
        let (global, command) = run(&[
            "--root",
            "/run/snare",
            "--log=/var/log/snare.json",
            "--log-format",
            "json",
            "--debug",
            "--systemd-cgroup",
            "syscalls",
        ])
        .expect("parses");
        assert_eq!(
            global,
            GlobalArgs {
                root: Some(PathBuf::from("/run/snare")),
                log: Some(PathBuf::from("/var/log/snare.json")),
                log_format: LogFormat::Json,
                debug: true,
                systemd_cgroup: true,
            }
        );
        assert_eq!(command, Command::Syscalls);
        // Global --root and do's --root are different things.
        let (global, command) =
            run(&["--root=/state", "do", "--root=/rootfs", "ls"]).expect("parses");
        assert_eq!(global.root, Some(PathBuf::from("/state")));
        let Command::Do(args) = command else {
            panic!("{command:?}");
        };
        assert_eq!(args.root, PathBuf::from("/rootfs"));
        assert_eq!(run(&["syscalls"]).expect("parses").0, GlobalArgs::default());
        assert_eq!(GlobalArgs::default().log_format, LogFormat::Text);
    }

    #[test]
    fn simple_commands() {
        assert_eq!(command(&["syscalls"]), Command::Syscalls);
        assert_eq!(command(&["seccomp-rules"]), Command::SeccompRules);
        assert_eq!(command(&["version"]), Command::Version);
        assert_eq!(command(&["--version"]), Command::Version);
        assert_eq!(command(&["-v"]), Command::Version);
        assert_eq!(command(&["--debug", "--version"]), Command::Version);
        assert_eq!(command(&["help"]), Command::Help);
        assert_eq!(command(&["--help"]), Command::Help);
        assert_eq!(command(&["-h"]), Command::Help);
        // --help after a subcommand, or among do's flags.
        assert_eq!(command(&["syscalls", "--help"]), Command::Help);
        assert_eq!(command(&["do", "--help"]), Command::Help);
        assert_eq!(command(&["do", "--strace", "-h", "ls"]), Command::Help);
        // ... but not after do's command: that is the guest's.
        assert_eq!(do_args(&["do", "ls", "--help"]).argv, os(&["ls", "--help"]));
        assert_eq!(error(&["--help=x"]), "flag --help takes no value");
    }

    #[test]
    fn extra_and_unknown_words() {
        assert_eq!(error(&["syscalls", "x"]), "unexpected argument x");
        assert_eq!(error(&["seccomp-rules", "x"]), "unexpected argument x");
        assert_eq!(
            error(&["do", "--no-confine=1", "x"]),
            "flag --no-confine takes no value"
        );
        assert_eq!(
            error(&["version", "--debug"]),
            "unexpected argument --debug"
        );
        assert_eq!(error(&["frobnicate"]), "unknown command frobnicate");
        assert_eq!(error(&["Do", "ls"]), "unknown command Do");
    }

    #[test]
    fn non_utf8_survives() {
        let weird = OsString::from_vec(b"caf\xe9".to_vec());
        let root = b"--root=/r\xff".to_vec();
        let words = vec![
            OsString::from("do"),
            OsString::from_vec(root),
            OsString::from("--cwd"),
            weird.clone(),
            OsString::from("cat"),
            weird.clone(),
        ];
        let (_, command) = parse(words).expect("parses");
        let Command::Do(args) = command else {
            panic!("{command:?}");
        };
        assert_eq!(args.root.as_os_str().as_bytes(), b"/r\xff");
        assert_eq!(
            args.cwd.as_deref().map(|p| p.as_os_str().to_owned()),
            Some(weird.clone())
        );
        assert_eq!(args.argv, vec![OsString::from("cat"), weird]);
        // A non-UTF-8 flag name is reported, lossily.
        let words = vec![
            OsString::from("do"),
            OsString::from_vec(b"--\xff".to_vec()),
            OsString::from("x"),
        ];
        assert_eq!(
            parse(words),
            Err(UsageError("unknown flag --\u{fffd}".to_owned()))
        );
        // --env must be UTF-8: it becomes a String.
        let words = vec![
            OsString::from("do"),
            OsString::from("--env"),
            OsString::from_vec(b"K=\xff".to_vec()),
            OsString::from("x"),
        ];
        assert!(parse(words).is_err());
    }

    #[test]
    fn usage_lists_everything() {
        for word in [
            "do",
            "syscalls",
            "version",
            "help",
            "--root",
            "--network",
            "--strace",
            "--debug-log",
            "--cwd",
            "--env",
            "--volume",
            "--tmpfs",
            "--log",
            "--log-format",
            "--debug",
            "--systemd-cgroup",
            "--help",
            "--version",
        ] {
            assert!(USAGE.contains(word), "{word} missing from USAGE");
        }
        assert_eq!(UsageError("x".to_owned()).to_string(), "x");
    }
}
