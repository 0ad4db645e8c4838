//! The stub region's fixed part in the Sentry's own address space: the data pages and the stub
//! code, prepared once per Sentry process and inherited by every stub process through the fork
//! of a source stub.

use std::sync::OnceLock;

use snare_abi::seccomp::{SockFilter, SockFprog};
use snare_abi::signal::SIGSYS;
use snare_stub::code::{self, Entry};
use snare_stub::layout::{
    ctrl_done_value, StubData, CTRL_MAX_OPS, MAX_FILTER_LEN, MAX_UNMAP, STUB_BASE, STUB_CODE,
    STUB_CODE_MAX, STUB_CTRL_REQ, STUB_DATA, STUB_DATA_SIZE, STUB_FIXED_END,
};

use super::filter;
use crate::{Error, Result};

/// Top of the user address space with 4-level paging (`TASK_SIZE_MAX`).
const TASK_SIZE: u64 = 0x7fff_ffff_f000;

/// Facts about the prepared stub image.
#[derive(Debug)]
pub(crate) struct Image {
    /// Length of the stub code at `STUB_CODE`.
    pub code_len: u64,
    /// The guest's seccomp program (kept for tests and `--debug` output).
    pub guest_filter_len: usize,
    pub ctrl_filter_len: usize,
    /// The CPU and kernel let user code use `rdfsbase`/`wrgsbase` (the fast syscall path
    /// needs them).
    pub has_fsgsbase: bool,
}

impl Image {
    /// Address of an entry point of the stub code in the stub region.
    pub fn entry(&self, e: Entry) -> u64 {
        STUB_CODE + code::offset(e)
    }
}

static IMAGE: OnceLock<core::result::Result<Image, String>> = OnceLock::new();

/// The stub image, prepared on first use.
pub(crate) fn get() -> Result<&'static Image> {
    IMAGE
        .get_or_init(|| prepare().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::Setup(e.clone()))
}

/// Address ranges of the vDSO and its data pages, which every stub keeps.
fn vdso_ranges() -> Result<Vec<(u64, u64)>> {
    let maps = crate::host_proc::read_to_string("self/maps")
        .map_err(|e| Error::Setup(format!("reading /proc/self/maps: {e}")))?;
    let mut out = Vec::new();
    for line in maps.lines() {
        let name = line.split_whitespace().nth(5).unwrap_or("");
        if !matches!(name, "[vdso]" | "[vvar]" | "[vvar_vclock]") {
            continue;
        }
        let range = line.split_whitespace().next().unwrap_or("");
        let (s, e) = range.split_once('-').unwrap_or(("", ""));
        let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else {
            continue;
        };
        if e <= TASK_SIZE {
            out.push((s, e));
        }
    }
    Ok(out)
}

/// The ranges a source stub unmaps: all of `[0, TASK_SIZE)` except `keep`.
fn unmap_ranges(mut keep: Vec<(u64, u64)>) -> Vec<[u64; 2]> {
    keep.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0u64;
    for (s, e) in keep {
        if s > at {
            out.push([at, s - at]);
        }
        at = at.max(e);
    }
    if at < TASK_SIZE {
        out.push([at, TASK_SIZE - at]);
    }
    out
}

fn fprog(filter: &[SockFilter], field_offset: usize) -> SockFprog {
    SockFprog {
        len: filter.len() as u16,
        _pad: [0; 3],
        filter: STUB_DATA + field_offset as u64,
    }
}

fn prepare() -> Result<Image> {
    let code = code::bytes();
    let code_len = code.len() as u64;
    if code_len > STUB_CODE_MAX {
        return Err(Error::Setup("stub code larger than its region".into()));
    }
    let code_end = STUB_CODE + code_len;
    let guest = filter::build(filter::GUEST_RULES, STUB_CODE, code_end);
    let ctrl = filter::build(filter::CTRL_RULES, STUB_CODE, code_end);
    if guest.len() > MAX_FILTER_LEN || ctrl.len() > MAX_FILTER_LEN {
        return Err(Error::Setup("stub seccomp program too long".into()));
    }

    let mut keep = vdso_ranges()?;
    keep.push((STUB_BASE, STUB_FIXED_END));
    let unmap = unmap_ranges(keep);
    if unmap.len() > MAX_UNMAP {
        return Err(Error::Setup("too many ranges to unmap in stubs".into()));
    }

    // SAFETY: getauxval reads the process's auxiliary vector.
    let hwcap2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    const HWCAP2_FSGSBASE: u64 = 1 << 1;

    let mut data = StubData {
        guest_fprog: fprog(&guest, core::mem::offset_of!(StubData, guest_filter)),
        ctrl_fprog: fprog(&ctrl, core::mem::offset_of!(StubData, ctrl_filter)),
        boot_sigset: !(1u64 << (SIGSYS - 1)),
        has_fsgsbase: u32::from(hwcap2 & HWCAP2_FSGSBASE != 0),
        n_unmap: unmap.len() as u32,
        unmap: [[0; 2]; MAX_UNMAP],
        ctrl_done: core::array::from_fn(|i| {
            let per = CTRL_MAX_OPS + 1;
            ctrl_done_value(i % per, i >= per)
        }),
        guest_filter: [SockFilter::default(); MAX_FILTER_LEN],
        ctrl_filter: [SockFilter::default(); MAX_FILTER_LEN],
    };
    let has_fsgsbase = data.has_fsgsbase != 0;
    data.unmap[..unmap.len()].copy_from_slice(&unmap);
    data.guest_filter[..guest.len()].copy_from_slice(&guest);
    data.ctrl_filter[..ctrl.len()].copy_from_slice(&ctrl);

    let len = (STUB_FIXED_END - STUB_BASE) as usize;
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the range is ours from
    // here on for the life of the process.
    let got = unsafe {
        libc::mmap(
            STUB_BASE as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if got != STUB_BASE as *mut libc::c_void {
        return Err(Error::Setup(format!(
            "cannot reserve the stub region at {STUB_BASE:#x}: {}",
            crate::sys::errno()
        )));
    }
    // SAFETY: the region was just mapped read-write and is large enough for StubData (asserted
    // in the layout) and the code (checked above).
    unsafe {
        core::ptr::write(STUB_DATA as *mut StubData, data);
        core::ptr::copy_nonoverlapping(code.as_ptr(), STUB_CODE as *mut u8, code.len());
    }
    let protect = |addr: u64, len: u64, prot: i32| -> Result<()> {
        // SAFETY: changes protection inside the region reserved above; nothing in this process
        // holds references into it.
        let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len as usize, prot) };
        crate::sys::check("mprotect", r as i64).map(drop)
    };
    protect(STUB_DATA, STUB_DATA_SIZE, libc::PROT_READ)?;
    protect(STUB_CODE, STUB_CODE_MAX, libc::PROT_READ | libc::PROT_EXEC)?;
    protect(
        STUB_CTRL_REQ,
        STUB_FIXED_END - STUB_CTRL_REQ,
        libc::PROT_NONE,
    )?;

    for (which, rules) in [
        ("guest", filter::GUEST_RULES),
        ("control", filter::CTRL_RULES),
    ] {
        for r in rules {
            tracing::debug!(
                filter = which,
                syscall = r.name,
                nr = r.nr,
                reason = r.reason
            );
        }
    }
    Ok(Image {
        code_len,
        guest_filter_len: guest.len(),
        ctrl_filter_len: ctrl.len(),
        has_fsgsbase,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmap_complements_keep() {
        let r = unmap_ranges(vec![(0x7000, 0x9000), (0x1000, 0x2000)]);
        assert_eq!(
            r,
            vec![[0, 0x1000], [0x2000, 0x5000], [0x9000, TASK_SIZE - 0x9000]]
        );
    }

    #[test]
    fn image_prepares_once() {
        let a = get().expect("image") as *const Image;
        let b = get().expect("image") as *const Image;
        assert_eq!(a, b);
        // SAFETY: the data page is mapped read-only for the life of the process.
        let data = unsafe { &*(STUB_DATA as *const StubData) };
        assert!(data.n_unmap >= 2);
        assert_eq!(
            data.guest_fprog.filter,
            STUB_DATA + core::mem::offset_of!(StubData, guest_filter) as u64
        );
    }
}
