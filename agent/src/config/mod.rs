//! The agent's configuration file (`/etc/sysaudit/sysaudit.yaml`, `watch -c FILE`): Falco's
//! `falco.yaml` keys with Falco's names and meaning wherever they have one here, so the
//! relevant part of a user's `falco.yaml` works unchanged. Loading merges the `config_files`
//! drop-ins and the `-o key=value` overrides, checks every key and type with located errors,
//! and warns about Falco keys that do not apply. Flags override the file, which overrides
//! the defaults (`cli/watch` applies them in that order).

mod falco_keys;
mod interval;
mod schema;
mod sources;

use std::path::{Path, PathBuf};

pub(crate) use interval::parse_interval;
pub(crate) use schema::{
    AppendOutput, Config, DropAction, DropIn, ExtraField, RuleMatching, RuleSwitch, Selector,
    SyscallEventDrops,
};

/// Where the agent looks when `-c` is not given (used only when it exists).
pub(crate) const DEFAULT_PATH: &str = "/etc/sysaudit/sysaudit.yaml";

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{at}: invalid YAML: {msg}")]
    Yaml { at: String, msg: String },
    /// A key or value the schema refuses, located (`file:line:col: key.path: why`).
    #[error("{at}: {msg}")]
    Invalid { at: String, msg: String },
    #[error("-o {arg}: {msg}")]
    Override { arg: String, msg: String },
}

/// A configuration and how it was made.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub config: Config,
    /// The files read, main file first, then the drop-ins in the order applied.
    pub files: Vec<PathBuf>,
    /// Keys accepted but not acted on (Falco's that do not apply here), located.
    pub warnings: Vec<String>,
}

/// Load `path` (or nothing: the defaults) with its drop-ins, then apply `overrides`
/// (`key.path=value`, as Falco's `-o`).
pub(crate) fn load(path: Option<&Path>, overrides: &[String]) -> Result<Loaded, ConfigError> {
    let mut src = sources::Sources::default();
    let mut root = match path {
        Some(p) => src.read(p)?,
        None => sources::empty(),
    };
    // As Falco: `-o config_files...` first, then the drop-ins, then every `-o` in order.
    for o in overrides
        .iter()
        .filter(|o| o.trim_start().starts_with("config_files"))
    {
        sources::apply_override(&mut root, o)?;
    }
    src.drop_ins(&mut root)?;
    for o in overrides {
        sources::apply_override(&mut root, o)?;
    }
    let warnings = falco_keys::screen(&mut root, &src)?;
    let config = schema::from_node(&root, &src)?;
    Ok(Loaded {
        config,
        files: src.files(),
        warnings,
    })
}

/// The configuration `watch` uses when `-c` is not given: the default file if it exists.
pub(crate) fn default_path() -> Option<PathBuf> {
    let p = PathBuf::from(DEFAULT_PATH);
    p.is_file().then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("sysaudit-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    #[test]
    fn a_falco_yaml_loads_with_its_drop_ins_and_overrides() {
        let d = dir("load");
        let conf = d.0.join("conf.d");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("10-more.yaml"),
            "rules_files: [/r/extra.yaml]\npriority: WARNING\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("20-last.yaml"),
            "json_include_tags_property: false\n",
        )
        .unwrap();
        let main = d.0.join("falco.yaml");
        std::fs::write(
            &main,
            format!(
                "rules_files:\n  - /r/falco_rules.yaml\nconfig_files:\n  - {}\njson_output: true\nwebserver:\n  enabled: true\n  listen_port: 8765\nengine:\n  kind: modern_ebpf\nstdout_output:\n  enabled: true\nhttp_output:\n  enabled: false\n  url: http://localhost:2801/\n",
                conf.display()
            ),
        )
        .unwrap();
        let l = load(
            Some(&main),
            &[
                "rule_matching=all".into(),
                "http_output.enabled=true".into(),
            ],
        )
        .unwrap();
        let c = &l.config;
        assert_eq!(
            c.rules_files,
            [
                PathBuf::from("/r/falco_rules.yaml"),
                PathBuf::from("/r/extra.yaml")
            ]
        );
        assert_eq!(c.priority, crate::rules::Priority::Warning);
        assert!(c.json_output && !c.json_include_tags_property);
        assert_eq!(c.rule_matching, schema::RuleMatching::All);
        assert!(c.http_output.enabled);
        assert_eq!(l.files.len(), 3);
        // The Falco key that asks for something the agent does not do, located.
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        let want = format!("{}:9:1: engine: Falco's key, ignored", main.display());
        assert!(l.warnings[0].starts_with(&want), "{:?}", l.warnings);
        assert!(c.webserver.enabled && c.webserver.listen_port == 8765);
    }

    #[test]
    fn mistakes_are_located_errors() {
        let d = dir("bad");
        let f = d.0.join("bad.yaml");
        let err = |text: &str| {
            std::fs::write(&f, text).unwrap();
            load(Some(&f), &[]).unwrap_err().to_string()
        };
        let e = err("json_output: true\nrule_matchin: all\n");
        assert!(
            e.starts_with(&format!("{}:2:1", f.display())) && e.contains("rule_matchin"),
            "{e}"
        );
        let e = err("file_output:\n  enabled: true\n  filenme: x\n");
        assert!(e.contains(":3:") && e.contains("filenme"), "{e}");
        let e = err("priority: warn\n");
        assert!(e.contains("unknown priority \"warn\""), "{e}");
        let e = err("json_output: [1]\n");
        assert!(e.contains(":1:") && e.contains("json_output"), "{e}");
        let e = err("file_output:\n  enabled: true\n");
        assert!(e.contains("no filename"), "{e}");
        let e = err("rules_files: [a]\nrules_file: [b]\n");
        assert!(e.contains("both"), "{e}");
        let e = err("- a\n- b\n");
        assert!(e.contains("mapping"), "{e}");
        let e = err("syscall_event_drops:\n  threshold: 1.5\n");
        assert!(e.contains(":2:") && e.contains("range [0, 1]"), "{e}");
        let e = err("syscall_event_drops:\n  actions: [ignore, log]\n");
        assert!(e.contains(":2:") && e.contains("\"ignore\""), "{e}");
        let e = err("outputs_queue:\n  capacity: 18446744073709551615\n");
        assert!(e.contains(":2:") && e.contains("more than 1048576"), "{e}");
        let e = err("syscall_event_drops:\n  actions: [panic]\n");
        assert!(e.contains("panic"), "{e}");
        let o = load(None, &["json_output".into()]).unwrap_err().to_string();
        assert!(o.starts_with("-o json_output: expected key=value"), "{o}");
    }

    #[test]
    fn no_file_is_the_agent_s_defaults() {
        let l = load(None, &[]).unwrap();
        assert_eq!(l.config, Config::default());
        assert!(l.warnings.is_empty() && l.files.is_empty());
    }
}
