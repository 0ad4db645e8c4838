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
