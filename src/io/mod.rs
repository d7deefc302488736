//! Files: NumPy `.npy` reading and writing (float32 out; f32, f64, u8, i32, i64 in), and
//! output folders written all at once, and the user's files read safely (regular files only,
//! size caps, no link loops).

#[cfg(not(target_arch = "wasm32"))]
mod files;
mod npy;
#[cfg(not(target_arch = "wasm32"))]
mod outdir;

#[cfg(not(target_arch = "wasm32"))]
pub use files::{image_files, is_image_name, read_capped, MAX_IMAGE_FILE, MAX_MODEL_FILE};
pub use npy::{read_npy, write_npy, NpyArray};
#[cfg(not(target_arch = "wasm32"))]
pub use outdir::{
    check_empty_outdir, remove_stale_temp, remove_temps_now, write_outdir, TempGuard,
};
