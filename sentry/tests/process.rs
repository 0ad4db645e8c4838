//! Differential tests for processes, threads and signals (issue 4): C guests run natively and
//! under `snare do`, stdout and exit status compared.

mod common;

use common::*;

#[test]
fn signals() {
    c_program("signals", &[]);
}

#[test]
fn threads() {
    c_program("threads", &[]);
}

#[test]
fn spawn_and_wait() {
    c_program("spawn", &[]);
}
