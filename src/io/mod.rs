//! Array files: NumPy `.npy` reading and writing (float32 out; f32, f64, u8, i32, i64 in).

mod npy;

pub use npy::{read_npy, write_npy, NpyArray};
