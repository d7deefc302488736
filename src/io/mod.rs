//! Files: NumPy `.npy` reading and writing (float32 out; f32, f64, u8, i32, i64 in), and
//! output folders written all at once.

mod npy;
#[cfg(not(target_arch = "wasm32"))]
mod outdir;

pub use npy::{read_npy, write_npy, NpyArray};
#[cfg(not(target_arch = "wasm32"))]
pub use outdir::{check_empty_outdir, write_outdir};
