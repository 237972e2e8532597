//! Falco's configuration keys the agent does not act on: accepted, each with a located
//! warning saying why, and removed before the typed read (which refuses any key it does not
//! know, so a typo is an error, not a silently ignored setting).

use marked_yaml::{types::MarkedScalarNode, Marker, Node, Span};

use super::{sources::Sources, ConfigError};

/// (key, why the agent does not act on it).
const NOT_APPLIED: &[(&str, &str)] = &[
    (
        "engine",
        "sysaudit has one event source, its own eBPF programs",
    ),
    (
        "base_syscalls",
        "the kernel traces what the loaded rules and the state need",
    ),
    ("falco_libs", "libsinsp's tables and snaplen are Falco's"),
    (
        "plugins",
        "sysaudit loads no plugins (the container data is built in)",
    ),
    (
        "load_plugins",
        "sysaudit loads no plugins (the container data is built in)",
    ),
    ("plugins_hostinfo", "sysaudit loads no plugins"),
    (
        "container_engines",
        "sysaudit finds the engines itself (--docker-socket and the like)",
    ),
    (
        "capture",
        "sysaudit writes no .scap captures (`trace --json` records captures)",
    ),
    (
        "log_stderr",
        "sysaudit logs to stderr always (-v, RUST_LOG)",
    ),
    ("log_syslog", "sysaudit logs to stderr (-v, RUST_LOG)"),
    ("log_level", "sysaudit's log level is -v or RUST_LOG"),
    ("libs_logger", "there is no libsinsp in sysaudit"),
    ("output_timeout", "outputs deliver off the capture path"),
    (
        "syscall_event_timeouts",
        "the ring reader does not poll the kernel for events",
    ),
    (
        "buffer_format_base64",
        "buffers print as Falco prints them by default",
    ),
    ("grpc", "removed in Falco 0.44"),
    ("grpc_output", "removed in Falco 0.44"),
    ("outputs", "removed in Falco 0.37"),
    (
        "rule_files",
        "a misspelling Falco's schema accepts and ignores (rules_files is the key)",
    ),
];

/// Keys inside blocks the agent acts on, accepted but not acted on: (block, key, why).
const SUB_NOT_APPLIED: &[(&str, &str, &str)] = &[
    (
        "http_output",
        "echo",
        "the endpoint's answers are not printed",
    ),
    (
        "http_output",
        "compress_uploads",
        "alerts are posted uncompressed",
    ),
    (
        "http_output",
        "keep_alive",
        "connections are reused without TCP keep-alive probes",
    ),
    (
        "http_output",
        "max_consecutive_timeouts",
        "not acted on yet",
    ),
    (
        "http_output",
        "ca_path",
        "the bundled roots or ca_cert/ca_bundle are trusted",
    ),
];

/// Remove every key of [`NOT_APPLIED`] from the top level, with a warning for each one that
/// asks for something (an `enabled: false` block asks for nothing).
pub(super) fn screen(root: &mut Node, src: &Sources) -> Result<Vec<String>, ConfigError> {
    let Some(map) = root.as_mapping_mut() else {
        return Ok(Vec::new());
    };
    // (where, text), in the order of the files' lines.
    let mut found: Vec<(Option<Marker>, String)> = Vec::new();
    for (key, why) in NOT_APPLIED {
        let probe = MarkedScalarNode::new(Span::new_blank(), *key);
        // The key as written, for its position.
        let Some(k) = map.keys().find(|k| **k == probe).cloned() else {
            continue;
        };
        if let Some(v) = map.remove(&probe) {
            if !disabled(&v) {
                found.push((
                    k.span().start().copied(),
                    format!("{}: {key}: Falco's key, ignored: {why}", src.at(k.span())),
                ));
            }
        }
    }
    if let Some(k) = map.keys().find(|k| k.as_str() == "rules_file") {
        found.push((
            k.span().start().copied(),
            format!(
                "{}: rules_file: deprecated (Falco 0.38): use rules_files",
                src.at(k.span())
            ),
        ));
    }
    for (block, key, why) in SUB_NOT_APPLIED {
        let Some(b) = map.get_mapping(block) else {
            continue;
        };
        if let Some(k) = b.keys().find(|k| k.as_str() == *key) {
            found.push((
                k.span().start().copied(),
                format!(
                    "{}: {block}.{key}: Falco's key, not acted on: {why}",
                    src.at(k.span())
                ),
            ));
        }
    }
    found.sort_by_key(|(m, _)| m.map(|m| (m.source(), m.line(), m.column())));
    Ok(found.into_iter().map(|(_, w)| w).collect())
}

/// A block that only says `enabled: false` (or a false scalar): nothing to ignore.
fn disabled(v: &Node) -> bool {
    match v {
        Node::Mapping(m) => m
            .get_scalar("enabled")
            .is_some_and(|e| e.as_bool() == Some(false)),
        Node::Scalar(s) => s.as_bool() == Some(false),
        Node::Sequence(s) => s.is_empty(),
    }
}
