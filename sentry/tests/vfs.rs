//! The guest's filesystem: /proc, the overlay root (writes never reach the host), mounts and
//! the Sentry's own path walk. C guests run natively and under `snare do` and must agree; the
//! host-side checks look at the host after a run.

mod common;

use common::*;

#[test]
fn proc_self() {
    let f = fixture().join("a.txt");
    c_program("proc", &[f.to_str().expect("utf-8")]);
}
