//! The default ruleset (`rules/sysaudit_rules.yaml`), embedded in the binary: what `watch`,
//! `demo` and `rules` use when no file is named.

/// The default ruleset's text.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/sysaudit_rules.yaml");
/// The name its diagnostics carry.
pub const DEFAULT_RULES_NAME: &str = "<embedded>/sysaudit_rules.yaml";

use std::{fs, io, path::PathBuf};

use super::{Engine, Loaded, Priority};

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: io::Error },
    #[error("{0} error(s) in the rules")]
    Invalid(usize),
    #[error("no rules file: {0} (a directory stands for its .yaml and .yml files)")]
    NoFiles(String),
}

/// The files' texts, in order, or the embedded default when none is named. A directory
/// stands for its `.yaml` and `.yml` files, in name order (not below it), as in Falco.
pub(crate) fn sources(files: &[PathBuf]) -> Result<Vec<(String, String)>, LoadError> {
    if files.is_empty() {
        return Ok(vec![(
            DEFAULT_RULES_NAME.to_string(),
            DEFAULT_RULES.to_string(),
        )]);
    }
    let mut expanded = Vec::new();
    for f in files {
        if f.is_dir() {
            let entries = fs::read_dir(f).map_err(|source| LoadError::Read {
                path: f.display().to_string(),
                source,
            })?;
            let mut inside: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            inside.sort();
            expanded.extend(inside);
        } else {
            expanded.push(f.clone());
        }
    }
    if expanded.is_empty() {
        let named: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        return Err(LoadError::NoFiles(named.join(", ")));
    }
    expanded
        .iter()
        .map(|f| {
            let path = f.display().to_string();
            match fs::read_to_string(f) {
                Ok(text) => Ok((path, text)),
                Err(source) => Err(LoadError::Read { path, source }),
            }
        })
        .collect()
}

/// Load rules files (or the default); every diagnostic is printed, any error fails.
pub(crate) fn load(files: &[PathBuf], min: Priority) -> Result<(Engine, Loaded), LoadError> {
    let mut loaded = Engine::load(&sources(files)?, min);
    for d in &loaded.diags {
        crate::messages::diag(&d.render(&loaded.files));
    }
    let n = loaded.errors().count();
    match loaded.engine.take() {
        Some(e) if n == 0 => Ok((e, loaded)),
        _ => Err(LoadError::Invalid(n)),
    }
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    #[test]
    fn a_directory_stands_for_its_yaml_files_in_name_order_and_none_is_an_error() {
        let d = std::env::temp_dir().join(format!("sysaudit-rules-dir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("sub")).unwrap();
        for f in ["b.yaml", "a.yml", "c.txt", "sub/d.yaml"] {
            fs::write(d.join(f), "[]\n").unwrap();
        }
        let names: Vec<String> = sources(std::slice::from_ref(&d))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let want: Vec<String> = ["a.yml", "b.yaml"]
            .iter()
            .map(|f| d.join(f).display().to_string())
            .collect();
        assert_eq!(names, want);
        let empty = d.join("sub2");
        fs::create_dir_all(&empty).unwrap();
        let e = sources(&[empty]).unwrap_err().to_string();
        assert!(e.starts_with("no rules file: "), "{e}");
        let _ = fs::remove_dir_all(&d);
    }
}
