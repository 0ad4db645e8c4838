//! The new mount API's flags and `struct mount_attr` (`include/uapi/linux/mount.h`), for
//! the read-only host trees the Sentry holds.

use static_assertions::const_assert_eq;

/// `open_tree(2)`: a detached copy of the tree instead of the mount itself.
pub const OPEN_TREE_CLONE: u32 = 1;
/// `open_tree(2)`: close the fd on exec (`O_CLOEXEC`).
pub const OPEN_TREE_CLOEXEC: u32 = 0o2000000;
/// `AT_RECURSIVE`: the mounts below too (`open_tree`, `mount_setattr`).
pub const AT_RECURSIVE: u32 = 0x8000;
/// `mount_setattr(2)`: read-only.
pub const MOUNT_ATTR_RDONLY: u64 = 1;
/// `mount_setattr(2)`: set-user/group-id bits and file capabilities ignored.
pub const MOUNT_ATTR_NOSUID: u64 = 2;
/// `mount_setattr(2)`: device nodes can't be opened.
pub const MOUNT_ATTR_NODEV: u64 = 4;
/// `mount_setattr(2)`, `fsmount(2)`: nothing on it can be executed.
pub const MOUNT_ATTR_NOEXEC: u64 = 8;
/// `fsopen(2)`: close the fd on exec.
pub const FSOPEN_CLOEXEC: u32 = 1;
/// `fsconfig(2)`: create the superblock from the parameters given.
pub const FSCONFIG_CMD_CREATE: u32 = 6;
/// `fsmount(2)`: close the fd on exec.
pub const FSMOUNT_CLOEXEC: u32 = 1;
/// `move_mount(2)`: the source is the fd itself (an empty path).
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 4;
/// `move_mount(2)`: the target is the fd itself (an empty path).
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

/// `struct mount_attr` (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}
const_assert_eq!(core::mem::size_of::<MountAttr>(), 32);
