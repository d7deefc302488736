//! Every input the fuzzers (`scripts/fuzz`) once found failing, kept in
//! `tests/fixtures/fuzz/<target>/` and replayed through the same entry points as the fuzz
//! targets: each must now give `Ok` or an `Err`, never a panic.

mod common;

use common::*;

fn replay(target: &str, run: impl Fn(&[u8])) -> usize {
    let dir = fixtures().join("fuzz").join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let bytes = std::fs::read(e.path()).unwrap();
        eprintln!("{target}: {}", e.path().display());
        run(&bytes);
        n += 1;
    }
    n
}

#[test]
fn fuzz_findings_stay_fixed() {
    let mut total = 0;
    total += replay("model_json", |d| {
        if let Ok(text) = std::str::from_utf8(d) {
            if let Ok(spec) = glimpse::keras::parse_model(text) {
                if let Ok(g) = glimpse::model::Graph::build(&spec) {
                    let _ = glimpse::Summary::of_graph(&spec, &g).to_string();
                }
            }
        }
    });
    total += replay("hdf5", |d| {
        let _ = glimpse::weights::hdf5::read_weights(d.to_vec(), "fuzz.h5");
        let _ = glimpse::weights::archive::read_full_h5(d.to_vec(), "fuzz.h5");
        let mut s =
            glimpse::weights::stream::WeightsStream::new(d.len() as u64, "fuzz.h5").unwrap();
        for piece in d.chunks(4096) {
            s.push(piece).unwrap();
        }
        let _ = s.finish();
    });
    total += replay("keras_zip", |d| {
        let _ = glimpse::weights::archive::read_keras_zip(d, "fuzz.keras");
    });
    total += replay("npy", |d| {
        let _ = glimpse::io::read_npy(d, "fuzz.npy");
    });
    total += replay("pickle", |d| {
        let _ = glimpse::zoo::pickle::load(d, 0);
        let _ = glimpse::zoo::torch::read_state_dict(d, "fuzz.pth");
    });
    total += replay("image", |d| {
        if let Ok(img) = glimpse::image::decode(d, "fuzz.img") {
            let _ = glimpse::image::resize_nearest(&img, 7, 5);
            let _ = glimpse::image::resize_bicubic(&img, 9, 4);
        }
    });
    total += replay("tfjs", |d| {
        let (json, shard) = match d.iter().position(|&b| b == 0) {
            Some(i) => (&d[..i], &d[i + 1..]),
            None => (d, &[][..]),
        };
        if let Ok(json) = std::str::from_utf8(json) {
            let _ = glimpse::model::read_tfjs(json, "fuzz/model.json", |_| Ok(shard.to_vec()));
        }
        let _ = glimpse::weights::archive::zip_files(d, "fuzz.zip");
    });
    eprintln!("{total} kept inputs replayed");
}
