//! The pickle machine and the legacy PyTorch file reader of the zoo converter.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = glimpse::zoo::pickle::load(data, 0);
    let _ = glimpse::zoo::torch::read_state_dict(data, "fuzz.pth");
});
