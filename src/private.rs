//! Files that hold personal data (openids, msgids, receipts) made private from their first byte:
//! files 0600, folders 0700, set when they are created — never tightened afterwards, by which
//! time another user could already have opened them. Files an earlier wxsend left readable are
//! tightened when opened.

use std::fs::{DirBuilder, File, OpenOptions};
use std::path::Path;

/// Open options whose files are created readable and writable by their owner only.
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Create `dir` and every missing parent as folders only their owner can enter.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Take group and other access away from an open file (one an earlier version created
/// readable by others).
pub fn restrict(file: &File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Take group and other access away from a folder (see [`restrict`]).
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Write a file whole: 0600 from its first byte, renamed into place (a reader sees the old file
/// or the new one, never half of one), its folder made 0700 if missing. `durable` waits for the
/// disk before the rename; a cache that checks its own integrity on reading needs no wait.
pub fn write_whole(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".wxsend-").tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    if durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map(drop).map_err(|e| e.error)
}
