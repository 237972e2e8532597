//! Builds the eBPF object (agent-ebpf) with aya-build and leaves it in OUT_DIR for
//! `include_bytes_aligned!`. Without the BPF toolchain (bpf-linker, rust-src) an empty stub is
//! written instead so `cargo check`, clippy and unit tests still work; the binary then refuses
//! to load programs with a clear message. `SYSAUDIT_REQUIRE_EBPF=1` (set by the README
//! commands and CI) turns a missing toolchain into a build error.
use std::{env, fs, path::PathBuf, process::Command};

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let ebpf_dir = manifest.join("../agent-ebpf");
    let common_dir = manifest.join("../common");
    println!("cargo:rerun-if-changed={}", common_dir.display());
    println!("cargo:rerun-if-env-changed=SYSAUDIT_REQUIRE_EBPF");
    println!("cargo:rerun-if-env-changed=PATH");
    let require = env::var("SYSAUDIT_REQUIRE_EBPF").is_ok_and(|v| v == "1");
    println!("cargo:rerun-if-env-changed=SYSAUDIT_EBPF_STUB");
    // Builds that never load programs (fuzzing, docs) can skip the BPF toolchain.
    if env::var("SYSAUDIT_EBPF_STUB").is_ok_and(|v| v == "1") {
        fs::write(out_dir.join("sysaudit"), [])?;
        return Ok(());
    }

    let toolchain = env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "stable".into());
    if let Some(missing) = missing_toolchain_piece(&toolchain) {
        if require {
            anyhow::bail!("cannot build the eBPF object: {missing} (run `cargo xtask setup`)");
        }
        println!("cargo:warning=eBPF object not built ({missing}); the binary will not be able to load its programs. Run `cargo xtask setup`.");
        println!("cargo:rerun-if-changed={}", ebpf_dir.display());
        fs::write(out_dir.join("sysaudit"), [])?;
        return Ok(());
    }
    // A stable toolchain builds `-Z build-std=core` with RUSTC_BOOTSTRAP; aya-build reads it
    // from our environment and the nested cargo inherits it.
    if !toolchain.starts_with("nightly") && env::var_os("RUSTC_BOOTSTRAP").is_none() {
        env::set_var("RUSTC_BOOTSTRAP", "1");
    }
    let ebpf_dir = ebpf_dir.canonicalize()?;
    let root = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "agent-ebpf",
            root_dir: root,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(&toolchain),
    )
}

/// What is missing to build BPF code with `toolchain`, if anything.
fn missing_toolchain_piece(toolchain: &str) -> Option<String> {
    let on_path = env::var_os("PATH")
        .map(|p| env::split_paths(&p).any(|d| d.join("bpf-linker").is_file()))
        .unwrap_or(false);
    if !on_path {
        return Some("bpf-linker is not on PATH".into());
    }
    let sysroot = Command::new("rustup")
        .args(["run", toolchain, "rustc", "--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match sysroot {
        Some(s) if s.join("lib/rustlib/src/rust/library/Cargo.lock").is_file() => None,
        Some(_) => Some(format!(
            "the rust-src component of {toolchain} is not installed"
        )),
        None => Some(format!("rustup cannot run toolchain {toolchain}")),
    }
}
