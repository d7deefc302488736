//! `.keras` zips: entries, caps, the weights inside.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = glimpse::weights::archive::read_keras_zip(data, "fuzz.keras");
    let _ = glimpse::weights::archive::zip_entry(data, "labels.txt");
});
