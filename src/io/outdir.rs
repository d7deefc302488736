//! Output folders written all at once: a failed run leaves nothing half-written.

use crate::error::{Error, Result};
use std::path::Path;

/// Fails when `dir` is not usable as a fresh output folder: it exists and is not an empty
/// folder, or it is a symbolic link (the final rename would replace the link, not fill its
/// target). Leftover temporary folders of earlier runs that were killed while writing
/// (`.<name>.partial-<pid>` of a process that is gone) are removed.
pub fn check_empty_outdir(dir: &Path) -> Result<()> {
    remove_stale_partials(dir);
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let refuse = |why: &str| Err(Error::input(dir.display().to_string(), why.to_string()));
    if meta.file_type().is_symlink() {
        return refuse("the output folder is a symbolic link; give a real folder");
    }
    if !meta.is_dir() {
        return refuse("the output path exists and is not a folder");
    }
    let busy = std::fs::read_dir(dir)
        .map(|mut d| d.next().is_some())
        .unwrap_or(true);
    if busy {
        return refuse("the output folder exists and is not empty");
    }
    Ok(())
}

/// The start of the name of the temporary sibling folder [`write_outdir`] fills for `dir`.
fn partial_prefix(dir: &Path) -> String {
    format!(
        ".{}.partial-",
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
}

/// That folder's name for process `pid`.
fn partial_name(dir: &Path, pid: u32) -> String {
    format!("{}{pid}", partial_prefix(dir))
}

/// Temporary folders being written now: removed by [`remove_temps_now`] when the process is
/// told to stop (the CLI calls it on SIGINT, SIGTERM and SIGHUP).
static TEMPS: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Registers a temporary folder for [`remove_temps_now`]; dropping the guard unregisters it.
pub struct TempGuard(std::path::PathBuf);

impl TempGuard {
    /// Registers `dir`.
    pub fn new(dir: &Path) -> TempGuard {
        TEMPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(dir.to_path_buf());
        TempGuard(dir.to_path_buf())
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        let mut t = TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = t.iter().position(|p| *p == self.0) {
            t.swap_remove(i);
        }
    }
}

/// Removes every registered temporary folder (for a signal handler's thread, before exit).
pub fn remove_temps_now() {
    let t = TEMPS.lock().unwrap_or_else(|e| e.into_inner());
    for p in t.iter() {
        let _ = std::fs::remove_dir_all(p);
    }
}

/// Removes `.<name>.partial-<pid>` folders beside `dir` whose process no longer runs.
fn remove_stale_partials(dir: &Path) {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    remove_stale_temp(parent, &partial_prefix(dir));
}

/// Removes the folders `<prefix><pid>` in `parent` that a process left behind when it was
/// killed: those whose process no longer runs (on systems with `/proc`; elsewhere only this
/// process's own).
pub fn remove_stale_temp(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let proc = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let gone = if pid == std::process::id() {
            true
        } else {
            proc && !Path::new(&format!("/proc/{pid}")).exists()
        };
        // Only real folders (a link is never followed into).
        if gone && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
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
    let tmp = parent.join(partial_name(dir, std::process::id()));
    let _guard = TempGuard::new(&tmp);
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
        // (Each test its own folder: the tests of one process run at the same time.)
        let root = std::env::temp_dir().join(format!("glimpse-outdir-w-{}", std::process::id()));
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

    #[cfg(unix)]
    #[test]
    fn symlinks_and_files_are_refused_and_stale_partials_removed() {
        let root = std::env::temp_dir().join(format!("glimpse-outdir-s-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::os::unix::fs::symlink(root.join("target"), root.join("link")).unwrap();
        let e = check_empty_outdir(&root.join("link")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        assert!(check_empty_outdir(&root.join("dangling")).is_err());
        std::fs::write(root.join("file"), b"x").unwrap();
        let e = check_empty_outdir(&root.join("file")).unwrap_err();
        assert!(e.to_string().contains("not a folder"), "{e}");
        // A killed run's temporary folder (pid 4294967295 is never a live process).
        let stale = root.join(".out.partial-4294967295");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("model.json"), b"{}").unwrap();
        let other = root.join(".other.partial-4294967295");
        std::fs::create_dir_all(&other).unwrap();
        check_empty_outdir(&root.join("out")).unwrap();
        assert!(!stale.exists(), "the stale partial folder is removed");
        assert!(other.exists(), "another folder's partial is left alone");
        let _ = std::fs::remove_dir_all(&root);
    }
}
