//! Differential tests for scheduling, priorities, memory locking and the small per-process
//! calls (issue 17): C guests and real programs (util-linux's nice, renice, taskset, chrt,
//! ionice, setarch; Python's os.nice and os.sched_*), run natively and under `snare do`,
//! stdout and exit status compared.

mod common;

use std::path::Path;

use common::*;

/// Nice values, policies, sched_setattr's size rules, affinity, I/O priorities and
/// personality, privileged and not, with hostile arguments (`tests/guests/sched.c`).
#[test]
fn scheduling() {
    c_program("sched", &[]);
}

/// mlock, mlock2, munlock, mlockall, MAP_LOCKED, VmLck and RLIMIT_MEMLOCK (`mlock.c`).
#[test]
fn memory_locking() {
    c_program("mlock", &[]);
}

/// kcmp, membarrier, and the clock-setting calls refused (`small_calls.c`).
#[test]
fn kcmp_membarrier_and_clocks() {
    c_program("small_calls", &[]);
}

/// The tools people run: their output must be native's. A process id in it is replaced
/// (the sandbox's differ).
#[test]
fn scheduling_tools() {
    let sh = Path::new("/bin/sh");
    let have = |tool: &str| {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists())
    };
    let scripts: &[(&str, &str)] = &[
        ("nice", "nice -n 5 nice"),
        ("renice", "renice -n 3 -p $$ >/dev/null && nice"),
        ("taskset", "taskset -c 0 nproc; nproc"),
        (
            "taskset",
            "taskset -p $$ | sed 's/[0-9]*.s current/PID current/'",
        ),
        (
            "taskset",
            "taskset -cp 0 $$ >/dev/null; taskset -cp $$ | sed 's/[0-9]*.s current/PID current/'",
        ),
        ("chrt", "chrt -p $$ | sed 's/[0-9]*.s current/PID current/'"),
        (
            "chrt",
            "chrt -f 5 chrt -p 0 | sed 's/[0-9]*.s current/PID current/'",
        ),
        (
            "chrt",
            "chrt -b 0 chrt -p 0 | sed 's/[0-9]*.s current/PID current/'",
        ),
        ("chrt", "chrt -m"),
        (
            "ionice",
            "ionice; ionice -c 3 ionice; ionice -c 2 -n 5 ionice",
        ),
        ("setarch", "setarch x86_64 -R true && echo ok"),
        ("setarch", "setarch i686 uname -m"),
        ("setarch", "setarch x86_64 -R cat /proc/self/personality"),
    ];
    for (tool, script) in scripts {
        if have(tool) {
            same(sh, &["-c", script]);
        }
    }
    same(
        Path::new("/usr/bin/python3"),
        &[
            "-c",
            "import os\nos.nice(3)\nprint(os.nice(0), os.sched_getscheduler(0), \
             os.sched_get_priority_max(os.SCHED_RR), len(os.sched_getaffinity(0)) > 0)\n\
             os.sched_setaffinity(0, {0})\nprint(os.sched_getaffinity(0))",
        ],
    );
}
