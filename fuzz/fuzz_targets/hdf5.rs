//! HDF5 weights in both Keras layouts (and a full-model `.h5`'s structure attribute).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = glimpse::weights::hdf5::read_weights(data.to_vec(), "fuzz.h5");
    let _ = glimpse::weights::archive::read_full_h5(data.to_vec(), "fuzz.h5");
});
