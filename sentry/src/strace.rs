//! --strace: decoding guest syscalls for people.
