//! Local secret files (generated keys): written once, readable by the owner only.

use std::{fs, io::Write, path::Path};

use anyhow::Context;

use crate::config::Config;

pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// The académie's pseudonymisation secret: from `pseudonym_secret_file`, else generated once
/// under `data_dir/secrets`. Losing it breaks the link between years, so back it up.
pub fn pseudonym_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    let path = match &config.pseudonym_secret_file {
        Some(p) => p.clone(),
        None => {
            let p = config.secrets_dir().join("pseudonym.key");
            if !p.exists() {
                use rand::RngCore;
                let mut secret = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut secret);
                write_private(&p, hex::encode(secret).as_bytes())?;
                tracing::warn!(path = %p.display(), "generated the académie's pseudonymisation secret; back it up");
            }
            p
        }
    };
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let secret = text.trim().as_bytes().to_vec();
    anyhow::ensure!(
        secret.len() >= 32,
        "{} must hold at least 32 characters",
        path.display()
    );
    Ok(secret)
}
