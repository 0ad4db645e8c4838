use snare_platform::{Context, Event};
use snare_tests::guest::Program;
use snare_tests::harness::{platform, start_regs, Guest};

#[test]
fn getpid_loop_runs() {
    let p = platform();
    let g = Guest::load(&p, Program::GetpidLoop).expect("load");
    let mut ctx = g.thread().expect("thread");
    let mut regs = start_regs();
    regs.rbx = 5;
    let mut n = 0;
    loop {
        let ev = ctx.switch(&mut regs);
        assert_eq!(ev, Event::Syscall, "event {n}");
        match regs.orig_rax {
            39 => {
                regs.rax = 1000 + n;
                n += 1;
            }
            60 => break,
            nr => panic!("unexpected syscall {nr}"),
        }
    }
    assert_eq!(n, 5);
}
