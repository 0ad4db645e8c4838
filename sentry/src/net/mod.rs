//! Sockets. AF_UNIX sockets ([`unix`]) are Sentry objects: a guest's socket never becomes a
//! host socket. The syscalls (`syscalls/socket.rs`) decode arguments and guest memory
//! (addresses, `msghdr`, control messages) and call the objects here, which know nothing of
//! guest memory. Other families answer EAFNOSUPPORT for now (issue 15, item 2).

pub mod unix;
