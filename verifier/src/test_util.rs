//! Helpers shared by the crate's unit tests.

use std::path::{Path, PathBuf};

/// `testdata/model-signing`: the model_signing 1.1.1 vectors.
pub(crate) fn model_signing_vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/model-signing")
}

/// Copies a directory tree (files and directories only).
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}
