//! A `.weights.h5` read while it downloads: the float16 chunks Glimpse writes (whole rows,
//! shuffled and deflated: `weights::write`) are inflated as soon as their bytes are in, so that
//! little decoding is left when the last byte arrives.
//!
//! Glimpse's files hold their metadata first (62 KB of Lite0's 8.4 MB), so a prefix of the file,
//! read as a file, already names every chunk's place (tried at 64 KB, then 4 times longer each
//! time it cannot be read). That reading is only a plan: a chunk decoded early is used at the end only where the whole file has a chunk of the
//! same address and stored size, so the result is what reading the whole file gives, whatever
//! the prefix said.

use super::hdf5::{self, Decoded, ShuffledChunk};
use super::WeightStore;
use crate::error::{Error, Result};

/// The first prefix length at which the file is read for its plan, then 4 times longer each try.
const FIRST_PLAN_AT: usize = 64 << 10;

/// The longest file read for a plan (each try copies the prefix): longer ones are read whole at
/// the end, as any file.
const MAX_PLANNED_FILE: usize = 256 << 20;

/// The longest file a stream takes (wasm32's memory ends at 4 GiB).
const MAX_FILE: u64 = 4 << 30;

/// Most groups the plan walks (a Keras file has two per layer).
const MAX_PLAN_GROUPS: usize = 100_000;

/// A weights file arriving in pieces ([`WeightsStream::push`]), read whole at the end
/// ([`WeightsStream::finish`]).
#[derive(Debug)]
pub struct WeightsStream {
    bytes: Vec<u8>,
    /// The length announced at the start (a download's `Content-Length`).
    expected: usize,
    /// The prefix length of the next try at a plan; `usize::MAX` once planned or given up.
    next_plan: usize,
    /// The chunks to inflate, by address; `done` of them are.
    plan: Vec<ShuffledChunk>,
    done: usize,
    decoded: Decoded,
    source: String,
}

impl WeightsStream {
    /// A stream for a file of `expected` bytes named `source` (for messages). A length over
    /// 4 GiB is refused; the bytes are kept as they arrive, not allocated ahead.
    pub fn new(expected: u64, source: &str) -> Result<WeightsStream> {
        let cap = MAX_FILE;
        let expected = usize::try_from(expected)
            .ok()
            .filter(|&n| n as u64 <= cap)
            .ok_or_else(|| {
                Error::weights_file(
                    source,
                    format!("announced {expected} bytes; at most {cap} are read"),
                )
            })?;
        Ok(WeightsStream {
            bytes: Vec::with_capacity(expected.min(64 << 20)),
            expected,
            next_plan: if expected <= MAX_PLANNED_FILE {
                FIRST_PLAN_AT.min(expected)
            } else {
                usize::MAX
            },
            plan: Vec::new(),
            done: 0,
            decoded: Decoded::default(),
            source: source.to_string(),
        })
    }

    /// Bytes received so far.
    pub fn received(&self) -> usize {
        self.bytes.len()
    }

    /// Chunks inflated so far (for tests and progress).
    pub fn chunks_decoded(&self) -> usize {
        self.decoded.len()
    }

    /// Appends the next piece of the file, and inflates the chunks it completes. More bytes
    /// than announced are refused.
    pub fn push(&mut self, piece: &[u8]) -> Result<()> {
        if piece.len() > self.expected - self.bytes.len() {
            return Err(Error::weights_file(
                &self.source,
                format!(
                    "more bytes than the {} announced ({} received)",
                    self.expected,
                    self.bytes.len() + piece.len()
                ),
            ));
        }
        self.bytes.extend_from_slice(piece);
        if self.bytes.len() >= self.next_plan {
            self.try_plan();
        }
        while let Some(&c) = self.plan.get(self.done) {
            let Some(end) = c.address.checked_add(c.stored) else {
                self.done = self.plan.len();
                break;
            };
            if end > self.bytes.len() as u64 {
                break;
            }
            let stored = &self.bytes[c.address as usize..end as usize];
            if let Some(planes) = hdf5::inflate_planes(stored, c.values) {
                let mut values = vec![0.0f32; c.values];
                let (lo, hi) = planes.split_at(c.values);
                glimpse_kernels::layout::f16_planes_to_f32(lo, hi, &mut values);
                self.decoded.insert((c.address, c.stored), values);
            }
            self.done += 1;
        }
        Ok(())
    }

    /// Reads the prefix as a file for the chunks to inflate.
    fn try_plan(&mut self) {
        let plan = hdf5_pure::File::from_bytes(self.bytes.clone())
            .ok()
            .and_then(|file| plan_of(&file));
        match plan {
            Some(mut plan) => {
                plan.sort_by_key(|c| c.address);
                self.plan = plan;
                self.next_plan = usize::MAX;
            }
            None if self.bytes.len() >= self.expected => self.next_plan = usize::MAX,
            None => {
                self.next_plan = self
                    .bytes
                    .len()
                    .saturating_mul(4)
                    .clamp(FIRST_PLAN_AT, self.expected)
            }
        }
    }

    /// The whole file, read as [`hdf5::read_weights`] reads it, with the chunks inflated on the
    /// way. A file shorter than announced is refused.
    pub fn finish(self) -> Result<WeightStore> {
        if self.bytes.len() != self.expected {
            return Err(Error::weights_file(
                &self.source,
                format!(
                    "the download ended after {} of the {} bytes announced",
                    self.bytes.len(),
                    self.expected
                ),
            ));
        }
        let file = hdf5::open(self.bytes, &self.source)?;
        hdf5::read_weights_decoded(&file, &self.source, self.decoded)
    }
}

/// Every chunk of every dataset that Glimpse decodes itself ([`hdf5::shuffled_f16_layout`]),
/// or `None` where the file cannot be walked (its metadata not all in yet).
fn plan_of(file: &hdf5_pure::File) -> Option<Vec<ShuffledChunk>> {
    let mut plan = Vec::new();
    let mut groups = vec![(file.root(), 0usize)];
    let mut walked = 0;
    while let Some((g, depth)) = groups.pop() {
        walked += 1;
        if walked > MAX_PLAN_GROUPS || depth > 16 {
            return None;
        }
        for name in g.datasets().ok()? {
            let ds = g.dataset(&name).ok()?;
            if let Some((chunks, ..)) = hdf5::shuffled_f16_layout(&ds) {
                plan.extend(chunks);
            }
        }
        for name in g.groups().ok()? {
            groups.push((g.group(&name).ok()?, depth + 1));
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::WeightsStream;
    use crate::weights::write::{keras3_weights_h5, LayerVariables, Precision, Variable};

    fn file() -> Vec<u8> {
        // Values of little pattern, so that the deflated file stays near 1 MB.
        let kernel = crate::weights::write::tests::values(3000 * 200, 200);
        let small: Vec<f32> = (0..3 * 3 * 4 * 8).map(|i| i as f32 / 100.0).collect();
        let bias: Vec<f32> = (0..200).map(|i| i as f32).collect();
        let var = |name, keras_shape, values| Variable {
            name,
            keras_shape,
            values,
        };
        let layers = [
            LayerVariables {
                class_name: "Conv2D",
                name: "conv",
                variables: vec![var("kernel", &[3, 3, 4, 8], &small)],
            },
            LayerVariables {
                class_name: "Dense",
                name: "d",
                variables: vec![
                    var("kernel", &[3000, 200], &kernel),
                    var("bias", &[200], &bias),
                ],
            },
        ];
        keras3_weights_h5("m", false, &layers, Precision::Float16).unwrap()
    }

    #[test]
    fn pieces_of_any_size_give_what_the_whole_file_gives_with_chunks_inflated_on_the_way() {
        let bytes = file();
        let whole = crate::weights::hdf5::read_weights(bytes.clone(), "w").unwrap();
        for piece in [1000, 65_536, 300_000, bytes.len()] {
            let mut s = WeightsStream::new(bytes.len() as u64, "w").unwrap();
            let mut early = 0;
            for p in bytes.chunks(piece) {
                s.push(p).unwrap();
                if s.received() < bytes.len() {
                    early = s.chunks_decoded();
                }
            }
            if piece < bytes.len() / 2 {
                // 1.2 MB of float16 in two chunks: the first is inflated before the last byte.
                assert!(
                    early >= 1,
                    "piece {piece} of {}: {early} chunks before the end",
                    bytes.len()
                );
            }
            let got = s.finish().unwrap();
            assert_eq!(got.layers, whole.layers, "piece {piece}");
        }
    }

    #[test]
    fn a_stream_longer_or_shorter_than_announced_is_refused() {
        let bytes = file();
        let mut s = WeightsStream::new(10, "w").unwrap();
        let e = s.push(&bytes[..11]).unwrap_err().to_string();
        assert!(e.contains("more bytes than the 10 announced"), "{e}");
        let mut s = WeightsStream::new(bytes.len() as u64, "w").unwrap();
        s.push(&bytes[..bytes.len() - 1]).unwrap();
        let e = s.finish().unwrap_err().to_string();
        assert!(e.contains("ended after"), "{e}");
        let e = WeightsStream::new(u64::MAX, "w").unwrap_err().to_string();
        assert!(e.contains("at most"), "{e}");
    }

    #[test]
    fn damaged_metadata_gives_what_reading_the_whole_file_gives() {
        // Garbage instead of the metadata: no plan (or a wrong one), and the end reads the
        // whole file as a whole read does.
        let mut damaged = file();
        damaged[100..4000].fill(0xab);
        let mut s = WeightsStream::new(damaged.len() as u64, "w").unwrap();
        for p in damaged.chunks(50_000) {
            s.push(p).unwrap();
        }
        let streamed = s.finish().map(|w| w.layers).map_err(|e| e.to_string());
        let whole = crate::weights::hdf5::read_weights(damaged, "w")
            .map(|w| w.layers)
            .map_err(|e| e.to_string());
        assert_eq!(streamed, whole);
    }
}
