//! TF.js layers models: `model.json` (topology and manifest) and one shard. The input is the
//! JSON text, a NUL byte, then the shard's bytes (every manifest path reads that shard).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (json, shard) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(json) = std::str::from_utf8(json) else {
        return;
    };
    let _ = glimpse::weights::tfjs::is_model_json(data);
    let _ = glimpse::model::read_tfjs(json, "fuzz/model.json", |_| Ok(shard.to_vec()));
    let _ = glimpse::weights::tfjs::metadata_labels(json);
    let _ = glimpse::weights::archive::zip_files(data, "fuzz.zip");
});
