//! NumPy `.npy` headers and bodies.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = glimpse::io::read_npy(data, "fuzz.npy");
});
