//! `Pod`: types that may be copied to and from raw bytes (guest memory, shared memory).

/// Marker for plain-old-data types: `#[repr(C)]`, no padding the compiler may fill with
/// uninitialised bytes (padding is explicit), every bit pattern valid, no pointers with
/// lifetimes.
///
/// # Safety
/// Implement only for types for which every bit pattern of `size_of::<Self>()` bytes is a valid
/// value and which contain no implicit padding.
pub unsafe trait Pod: Copy + 'static {}

/// Implements [`Pod`] for a list of types that satisfy its contract.
#[macro_export]
macro_rules! impl_pod {
    ($($t:ty),* $(,)?) => {
        $(
            // SAFETY: the type is a `#[repr(C)]` (or primitive) type made only of integers with
            // explicit padding fields; every bit pattern is valid.
            unsafe impl $crate::pod::Pod for $t {}
        )*
    };
}

impl_pod!(u8, u16, u32, u64, i8, i16, i32, i64, usize, isize);

// SAFETY: an array of Pod is Pod: no padding between elements, every bit pattern valid.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// The bytes of a Pod value.
pub fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod: no implicit padding, so every byte is initialised; the slice covers
    // exactly the value and borrows it.
    unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), core::mem::size_of::<T>()) }
}

/// The bytes of a Pod value, writable: any bytes written form a valid `T`.
pub fn as_bytes_mut<T: Pod>(v: &mut T) -> &mut [u8] {
    // SAFETY: T is Pod: every bit pattern is valid and there is no padding; the slice covers
    // exactly the value and borrows it mutably.
    unsafe {
        core::slice::from_raw_parts_mut((v as *mut T).cast::<u8>(), core::mem::size_of::<T>())
    }
}

/// A Pod value read from the start of `b`; `None` if `b` is too short.
pub fn from_bytes<T: Pod + Default>(b: &[u8]) -> Option<T> {
    let mut v = T::default();
    let out = as_bytes_mut(&mut v);
    out.copy_from_slice(b.get(..out.len())?);
    Some(v)
}
