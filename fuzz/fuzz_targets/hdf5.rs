//! HDF5 weights in both Keras layouts (and a full-model `.h5`'s structure attribute), whole
//! and as a stream of pieces.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = glimpse::weights::hdf5::read_weights(data.to_vec(), "fuzz.h5");
    let _ = glimpse::weights::archive::read_full_h5(data.to_vec(), "fuzz.h5");
    // The same bytes as a download arriving in pieces (its prefixes read for a plan).
    if let Ok(mut s) = glimpse::weights::stream::WeightsStream::new(data.len() as u64, "fuzz.h5") {
        for piece in data.chunks(4096) {
            let _ = s.push(piece);
        }
        let _ = s.finish();
    }
});
