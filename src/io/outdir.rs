//! Output folders written all at once: a failed run leaves nothing half-written.

use crate::error::{Error, Result};
use std::path::Path;

/// Fails when `dir` exists and is not an empty folder.
pub fn check_empty_outdir(dir: &Path) -> Result<()> {
    let busy = dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    if busy {
        return Err(Error::input(
            dir.display().to_string(),
            "the output folder exists and is not empty",
        ));
    }
    Ok(())
}

/// Writes `files` (name, bytes) into the folder `dir`: first into a temporary sibling folder,
/// then renamed into place, so `dir` appears complete or not at all. An existing empty `dir`
/// is replaced.
pub fn write_outdir(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    check_empty_outdir(dir)?;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!(
        ".{}.partial-{}",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = (|| -> Result<()> {
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        for (name, bytes) in files {
            let p = tmp.join(name);
            std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
        }
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_folders_and_refuses_busy_ones() {
        let root = std::env::temp_dir().join(format!("glimpse-outdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let out = root.join("a/out");
        write_outdir(&out, &[("x.txt", b"1".to_vec()), ("y.txt", b"2".to_vec())]).unwrap();
        assert_eq!(std::fs::read(out.join("y.txt")).unwrap(), b"2");
        assert!(write_outdir(&out, &[("z.txt", vec![])]).is_err());
        assert!(!out.join("z.txt").exists());
        // A file that cannot be written leaves no folder behind.
        let bad = root.join("b/out");
        assert!(write_outdir(&bad, &[("sub/missing/x", vec![])]).is_err());
        assert!(!bad.exists());
        assert_eq!(std::fs::read_dir(root.join("b")).unwrap().count(), 0);
    }
}
