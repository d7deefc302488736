//! Reading the files a person points Glimpse at, safely: only regular files, each within a
//! size cap, and folders walked without following a symbolic-link loop twice.

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest image file read (a 100-megapixel JPEG is well under this).
pub const MAX_IMAGE_FILE: u64 = 256 << 20;

/// Largest model, weights or data file read whole (wasm and browsers cap near 4 GB anyway).
pub const MAX_MODEL_FILE: u64 = 4 << 30;

/// Whether the name ends in `.jpg`, `.jpeg` or `.png` (any case).
pub fn is_image_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("jpg" | "jpeg" | "png")
    )
}

/// Reads a whole regular file of at most `max` bytes. A FIFO, a device (a link to
/// `/dev/zero`), a folder or a file over the cap is an error naming it; nothing is read past
/// the cap even when the file grows while it is read.
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::input(
            path.display().to_string(),
            "not a regular file (a folder, device, FIFO or socket)",
        ));
    }
    if meta.len() > max {
        return Err(too_large(path, meta.len().to_string(), max));
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > max {
        return Err(too_large(path, format!("more than {max}"), max));
    }
    Ok(buf)
}

fn too_large(path: &Path, found: String, max: u64) -> Error {
    Error::input(
        path.display().to_string(),
        format!("the file holds {found} bytes, more than the {max} Glimpse reads"),
    )
}

/// The (device, inode) of a folder, to recognise it when a link leads back to it.
#[cfg(unix)]
fn folder_id(meta: &std::fs::Metadata, _path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn folder_id(_meta: &std::fs::Metadata, path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Images under the arguments: files as given (each must be a regular file), folders searched
/// recursively (sorted per argument). Links are followed, but each folder is entered once
/// (a link back to a parent is a loop, not more photos) and only regular files are taken.
pub fn image_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for p in inputs {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_file() {
            out.push(p.clone());
            continue;
        }
        if !meta.is_dir() {
            return Err(Error::input(
                p.display().to_string(),
                "not an image file or a folder (a device, FIFO or socket)",
            ));
        }
        let mut found = Vec::new();
        let mut stack = vec![p.clone()];
        seen.insert(folder_id(&meta, p));
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d)
                .map_err(|e| Error::io(&d, e))?
                .filter_map(|e| e.ok())
            {
                let path = e.path();
                let Ok(meta) = std::fs::metadata(&path) else {
                    continue; // a dangling link
                };
                if meta.is_dir() {
                    if seen.insert(folder_id(&meta, &path)) {
                        stack.push(path);
                    }
                } else if meta.is_file() && is_image_name(&path) {
                    found.push(path);
                }
            }
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn loops_devices_and_fifos_are_not_photos() {
        let root = std::env::temp_dir().join(format!("glimpse-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/one.jpg"), b"x").unwrap();
        std::fs::write(root.join("a/b/two.png"), b"x").unwrap();
        std::os::unix::fs::symlink(&root, root.join("a/b/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("a/self")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("a/zero.jpg")).unwrap();
        let fifo = root.join("a/pipe.jpg");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let files = image_files(std::slice::from_ref(&root)).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.iter().any(|f| f.ends_with("one.jpg")));
        assert!(read_capped(&root.join("a/zero.jpg"), 1 << 20).is_err());
        if made.is_ok_and(|s| s.success()) {
            let e = read_capped(&fifo, 1 << 20).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert!(image_files(&[fifo]).is_err());
        }
        std::fs::write(root.join("big.jpg"), vec![0u8; 2048]).unwrap();
        let e = read_capped(&root.join("big.jpg"), 1024).unwrap_err();
        assert!(e.to_string().contains("more than the 1024"), "{e}");
        assert_eq!(
            read_capped(&root.join("big.jpg"), 4096).unwrap().len(),
            2048
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
