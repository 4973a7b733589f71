//! Reading the monitor configuration with errors that say where and what.

use crate::Failure;
use anyhow::anyhow;
use livesite_core::Config;
use std::path::Path;

pub fn load(path: &Path) -> Result<Config, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(anyhow!("{}: cannot read the config: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

pub fn parse(text: &str, origin: &str) -> Result<Config, Failure> {
    let config: Config =
        toml::from_str(text).map_err(|e| Failure::input(anyhow!("{origin}: {e}")))?;
    config
        .validate()
        .map_err(|e| Failure::input(anyhow!("{origin}: {}: {}", e.path, e.message)))?;
    Ok(config)
}
