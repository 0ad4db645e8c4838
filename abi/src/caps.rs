//! Capabilities (`include/uapi/linux/capability.h`): `capset(2)`'s header version and the
//! numbers the Sentry keeps.

/// `_LINUX_CAPABILITY_VERSION_3`: `capset` takes two 32-bit words per set.
pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// Past the last capability any kernel defines (dropping an unknown one is `EINVAL`).
pub const CAP_MAX: u64 = 63;

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_DAC_READ_SEARCH: u32 = 2;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
