//! Image decoding (PNG, JPEG, the truncation check) and preparation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(img) = glimpse::image::decode(data, "fuzz.img") {
        let _ = glimpse::image::resize_nearest(&img, 7, 5);
        let _ = glimpse::image::resize_bicubic(&img, 9, 4);
    }
});
