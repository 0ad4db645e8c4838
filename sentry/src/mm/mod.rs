//! Guest memory: the memory manager of one address space, and copying to and from it.

mod usercopy;

pub use usercopy::{FlatMemory, GuestMemory};
