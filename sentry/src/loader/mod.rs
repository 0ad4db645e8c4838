//! ELF loading and the initial stack.
