//! Capabilities (issues 16 and 17): `caps.c` runs natively and under `snare do`, stdout and
//! exit status compared. It needs root natively, as CI runs.

mod common;

use common::*;

/// capget/capset (versions, probes, bad pointers, pids, the subset rules); each privilege
/// check following its capability; access() with the permitted set; the bounding set,
/// keepcaps, ambient capabilities and secure bits across setuid and exec; setfsuid;
/// no_new_privs; a set-user-id-root program (`caps.c`).
#[test]
fn capabilities() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: capabilities needs root (natively)");
        return;
    }
    let d = scratch().to_str().expect("utf-8").to_string();
    c_program("caps", &[&d]);
}
