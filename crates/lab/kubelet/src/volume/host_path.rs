//! hostPath volumes' `type` as the kubelet checks it before mounting: the `…OrCreate` types
//! (and no type, which the container runtime treats as DirectoryOrCreate) make what is
//! missing; the others must find the path of that kind, or fail with upstream's words.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Checks (or creates) `path` for a hostPath volume of type `kind`.
pub(crate) fn check(path: &Path, kind: &str) -> Result<(), String> {
    let shown = path.display();
    let meta = fs::metadata(path).ok();
    let failed = |what: &str| Err(format!("hostPath type check failed: {shown} is not {what}"));
    let create = |e: std::io::Error| format!("hostPath {shown}: create: {e}");
    match kind {
        "" | "DirectoryOrCreate" if meta.is_none() => fs::create_dir_all(path).map_err(create),
        "FileOrCreate" if meta.is_none() => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(create)?;
            }
            fs::File::create(path).map(drop).map_err(create)
        }
        "" => Ok(()),
        "DirectoryOrCreate" | "Directory" if !meta.as_ref().is_some_and(|m| m.is_dir()) => {
            failed("a directory")
        }
        "FileOrCreate" | "File" if !meta.as_ref().is_some_and(|m| m.is_file()) => failed("a file"),
        "Socket" if !meta.as_ref().is_some_and(|m| m.file_type().is_socket()) => {
            failed("a socket file")
        }
        "CharDevice"
            if !meta
                .as_ref()
                .is_some_and(|m| m.file_type().is_char_device()) =>
        {
            failed("a character device")
        }
        "BlockDevice"
            if !meta
                .as_ref()
                .is_some_and(|m| m.file_type().is_block_device()) =>
        {
            failed("a block device")
        }
        "Directory" | "DirectoryOrCreate" | "File" | "FileOrCreate" | "Socket" | "CharDevice"
        | "BlockDevice" => Ok(()),
        other => Err(format!("hostPath {shown}: unknown type {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_create_types_make_what_is_missing_and_the_others_check_the_kind() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        check(&d.join("made/dir"), "DirectoryOrCreate").unwrap();
        assert!(d.join("made/dir").is_dir());
        check(&d.join("untyped"), "").unwrap();
        assert!(d.join("untyped").is_dir());
        check(&d.join("conf/app.conf"), "FileOrCreate").unwrap();
        assert!(d.join("conf/app.conf").is_file());
        check(d, "Directory").unwrap();
        let err = check(&d.join("conf/app.conf"), "Directory").unwrap_err();
        assert!(err.ends_with("app.conf is not a directory"), "{err}");
        assert!(
            check(&d.join("absent"), "File")
                .unwrap_err()
                .ends_with("is not a file")
        );
        check(Path::new("/dev/null"), "CharDevice").unwrap();
        assert!(check(d, "Socket").is_err());
    }
}
