//! Loads a guest program into a fresh systrap address space.

use snare_abi::regs::{RFLAGS_FIXED, RFLAGS_IF, USER_CS, USER_DS};
use snare_abi::UserRegs;
use snare_platform::systrap::{Config, Systrap, SystrapAddressSpace, SystrapContext};
use snare_platform::{AddressSpace, Platform, Prot, Result};

use crate::guest::{program, Program};

/// Where guest code is mapped.
pub const CODE_ADDR: u64 = 0x40_0000;
/// Top of the guest stack (64 KiB below it are mapped).
pub const STACK_TOP: u64 = 0x7f00_0000;
const STACK_SIZE: u64 = 0x1_0000;
/// A read-write data page, passed to programs in r15.
pub const DATA_ADDR: u64 = 0x50_0000;

/// A platform made for tests: no longer spin than needed on a shared machine.
pub fn platform() -> Systrap {
    Systrap::new(Config {
        memory_size: 1 << 30,
        ..Config::default()
    })
    .expect("systrap platform")
}

/// A guest address space holding one program.
#[derive(Debug)]
pub struct Guest {
    pub space: SystrapAddressSpace,
    /// File offset of the data page.
    pub data_off: u64,
}

impl Guest {
    /// Maps `prog` at [`CODE_ADDR`], a stack and a data page.
    pub fn load(p: &Systrap, prog: Program) -> Result<Guest> {
        let mem = p.memory_file();
        let space = p.new_address_space()?;
        let code = program(prog);
        let code_off = mem.allocate(4096)?;
        mem.write(code_off, code);
        space.map_file(CODE_ADDR, 4096, code_off, Prot::RX)?;
        let stack_off = mem.allocate(STACK_SIZE)?;
        space.map_file(STACK_TOP - STACK_SIZE, STACK_SIZE, stack_off, Prot::RW)?;
        let data_off = mem.allocate(4096)?;
        space.map_file(DATA_ADDR, 4096, data_off, Prot::RW)?;
        Ok(Guest { space, data_off })
    }

    /// A new thread of this address space.
    pub fn thread(&self) -> Result<SystrapContext> {
        self.space.new_context()
    }
}

/// Registers that start a program at its first instruction.
pub fn start_regs() -> UserRegs {
    UserRegs {
        rip: CODE_ADDR,
        rsp: STACK_TOP - 64,
        r15: DATA_ADDR,
        cs: USER_CS,
        ss: USER_DS,
        eflags: RFLAGS_FIXED | RFLAGS_IF,
        ..Default::default()
    }
}
