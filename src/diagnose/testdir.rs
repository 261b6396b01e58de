//! A temporary directory for the diagnose modules' unit tests (nearmiss, perms, config,
//! search): created 0755 whatever the umask, unique per process and call, removed on drop even
//! when a test left parts of it unreadable or unsearchable.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls so far in this process: with the PID, makes each directory's name unique.
static SEQ: AtomicU64 = AtomicU64::new(0);

pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory; `tag` names it.
    pub(crate) fn new(tag: &str) -> TempDir {
        loop {
            let dir = std::env::temp_dir().join(format!(
                "reqtrace-{tag}-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            ));
            // `create_dir`, not `create_dir_all`: never reuse a directory left behind by an
            // earlier process that had the same PID.
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("creating {}: {e}", dir.display()),
            }
            // Searchable by everyone, whatever the umask.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            return TempDir(dir);
        }
    }

    /// The directory itself.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// `rel` under the directory.
    pub(crate) fn p(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// `rel` under the directory, as bytes.
    pub(crate) fn b(&self, rel: &str) -> Vec<u8> {
        self.p(rel).as_os_str().as_bytes().to_vec()
    }

    /// `rel` under the directory, as a string.
    pub(crate) fn s(&self, rel: &str) -> String {
        self.p(rel).to_string_lossy().into_owned()
    }

    /// Creates the file `rel` containing "x", and its missing parent directories.
    pub(crate) fn touch(&self, rel: &str) {
        self.write(rel, b"x");
    }

    /// Creates or replaces the file `rel` with `data`, and its missing parent directories.
    pub(crate) fn write(&self, rel: &str, data: impl AsRef<[u8]>) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    /// Creates the file `rel` containing "x" with `mode`; its parent must exist.
    pub(crate) fn file(&self, rel: &str, mode: u32) {
        let p = self.p(rel);
        std::fs::write(&p, b"x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Creates the directory `rel` (and its missing parents), then gives it `mode`.
    pub(crate) fn dir(&self, rel: &str, mode: u32) {
        let p = self.p(rel);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Make everything removable again first (symlinks are not followed).
        fn open_up(p: &Path) {
            if let Ok(m) = std::fs::symlink_metadata(p)
                && m.is_dir()
            {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
                if let Ok(rd) = std::fs::read_dir(p) {
                    for e in rd.flatten() {
                        open_up(&e.path());
                    }
                }
            }
        }
        open_up(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
