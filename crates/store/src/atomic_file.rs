//! Small files written atomically: write a temp file, fsync it, rename it over the target,
//! fsync the directory. A crash leaves either the old or the new content, never a mix.

use crate::error::StoreError;
use crate::mapped_file::sync_dir;
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `contents` atomically and durably.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .ok_or_else(|| StoreError::Io(std::io::Error::other("path has no parent")))?;
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::Io(std::io::Error::other("path has no file name")))?;
    let tmp = dir.join(format!(".{file_name}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)?;
    Ok(())
}

/// The contents of `path`, or `None` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether `name` is usable as a config file stem (`config/<name>.json`): non-empty, no path
/// separators or parent references.
pub fn valid_config_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '%'))
}
