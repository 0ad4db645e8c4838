//! Clock ids (`<linux/posix-timers.h>`, `<linux/time.h>`): the CPU-time clocks a negative id
//! names, `~pid << 3 | CPUCLOCK_PERTHREAD? | which` (pid 0: the caller).

/// The id names a thread's clock, not a process's.
pub const CPUCLOCK_PERTHREAD: i32 = 4;
/// Mask of the `which` bits.
pub const CPUCLOCK_WHICH: i32 = 3;
/// User and system time.
pub const CPUCLOCK_PROF: i32 = 0;
/// User time.
pub const CPUCLOCK_VIRT: i32 = 1;
/// Scheduler runtime.
pub const CPUCLOCK_SCHED: i32 = 2;
/// `which` 3: a clock behind an fd (`FD_TO_CLOCKID`), not a CPU clock.
pub const CLOCKFD: i32 = 3;

/// The pid (0: the caller) a negative clock id names.
pub const fn cpuclock_pid(id: i32) -> i32 {
    !(id >> 3)
}
