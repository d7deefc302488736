use crate::error::{Error, Result};

/// A loaded `.npy` array as float32.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

fn bad(source: &str, msg: impl Into<String>) -> Error {
    Error::input(source, format!("not a readable .npy file: {}", msg.into()))
}

fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    Some(rest)
}

/// Parses `.npy` bytes (little-endian f4/f8/u1/i4/i8, C order).
pub fn read_npy(bytes: &[u8], source: &str) -> Result<NpyArray> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad(source, "missing the \\x93NUMPY magic"));
    }
    let (hlen, hstart) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(source, format!("unsupported version {v}"))),
    };
    let end = hstart
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad(source, "truncated header"))?;
    let header =
        std::str::from_utf8(&bytes[hstart..end]).map_err(|_| bad(source, "header is not text"))?;
    let descr = header_value(header, "descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| bad(source, "no 'descr'"))?;
    if header_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad(source, "Fortran-order arrays are not supported"));
    }
    let shape_text = header_value(header, "shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad(source, "no 'shape'"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| bad(source, format!("bad shape entry '{s}'")))
        })
        .collect::<Result<Vec<_>>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(source, "shape overflows"))?;
    let body = &bytes[end..];
    let size = match descr {
        "<f4" => 4,
        "<f8" | "<i8" => 8,
        "<i4" => 4,
        "|u1" | "<u1" => 1,
        other => {
            return Err(bad(
                source,
                format!("dtype '{other}' (supported: <f4, <f8, <i4, <i8, |u1)"),
            ))
        }
    };
    if body.len() < n.saturating_mul(size) {
        return Err(bad(
            source,
            format!(
                "shape {shape:?} needs {} bytes of data, found {}",
                n.saturating_mul(size),
                body.len()
            ),
        ));
    }
    let data: Vec<f32> = match descr {
        "<f4" => body
            .chunks_exact(4)
            .take(n)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "<f8" => body
            .chunks_exact(8)
            .take(n)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        "<i8" => body
            .chunks_exact(8)
            .take(n)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        "<i4" => body
            .chunks_exact(4)
            .take(n)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        _ => body.iter().take(n).map(|&b| b as f32).collect(),
    };
    Ok(NpyArray { shape, data })
}

/// Writes a float32 `.npy` (version 1.0, C order).
pub fn write_npy(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so the data starts on a 64-byte boundary, ending with a newline.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let bytes = write_npy(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]);
        assert_eq!((bytes.len() - 24) % 64, 0);
        let a = read_npy(&bytes, "t").unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data[5], 6.5);
        assert!(read_npy(b"hello world", "t").is_err());
        assert!(read_npy(&bytes[..bytes.len() - 3], "t").is_err());
        let one = read_npy(&write_npy(&[4], &[0.0; 4]), "t").unwrap();
        assert_eq!(one.shape, vec![4]);
    }
}
