//! Installing what the build and the tests need, each piece only when missing.

use anyhow::{bail, Result};

use crate::sh;

/// Debian packages: runc, crun and a static busybox for real containers; gcc-multilib for the
/// 32-bit test binaries; libseccomp-dev for the seccomp loader (`sysaudit run`); the peers the
/// benchmark measures against (bpftrace, strace); docker.io (dockerd, its containerd, the
/// docker CLI) and podman for the engine-metadata tests; protobuf-compiler (protoc) for the
/// containerd and CRI gRPC bindings the agent builds; liburing-dev for the io_uring test
/// program (linked statically into a container); prometheus (and its promtool) to scrape the
/// agent's metrics.
pub(crate) const PACKAGES: &[&str] = &[
    "runc",
    "crun",
    "busybox-static",
    "gcc-multilib",
    "libseccomp-dev",
    "pkg-config",
    "bpftrace",
    "strace",
    "docker.io",
    "podman",
    "protobuf-compiler",
    "liburing-dev",
    "prometheus",
];

/// The bpf-linker that works with this machine's rustc (it loads rustc's own LLVM; 0.11+
/// needs a system LLVM 23).
const BPF_LINKER: &str = "0.10.0";

pub(crate) fn all() -> Result<()> {
    rust_src()?;
    bpf_linker()?;
    packages()?;
    python_tools()
}

/// What the tests check our output with, from PyPI: kubernetes-validate (the manifests
/// against a current Kubernetes's schemas), junitparser (`sysaudit ci`'s JUnit reports) and
/// jsonschema (its SARIF against the official schema).
const PYTHON_TOOLS: [(&str, &str); 3] = [
    ("kubernetes-validate", "1.37.0"),
    ("junitparser", "5.0.3"),
    ("jsonschema", "4.26.0"),
];

fn python_tools() -> Result<()> {
    for (name, version) in PYTHON_TOOLS {
        let have = sh::output(sh::cmd("python3").args([
            "-c",
            &format!("import importlib.metadata as m; print(m.version('{name}'))"),
        ]))
        .unwrap_or_default();
        if have.trim() == version {
            eprintln!("ok: {name} {version}");
            continue;
        }
        sh::step(&format!("installing {name} {version} (pip, from PyPI)"));
        sh::run(sh::cmd("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            &format!("{name}=={version}"),
        ]))?;
    }
    Ok(())
}

fn toolchain() -> String {
    std::env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "stable".into())
}

/// `-Z build-std=core` for the bpf target needs the standard library's sources.
fn rust_src() -> Result<()> {
    let tc = toolchain();
    let sysroot = sh::output(sh::cmd("rustc").args(["--print", "sysroot"])).unwrap_or_default();
    let lock = std::path::Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/Cargo.lock");
    if lock.is_file() {
        eprintln!("ok: rust-src is installed for {tc}");
        return Ok(());
    }
    sh::step(&format!("installing the rust-src component for {tc}"));
    sh::run(sh::cmd("rustup").args(["component", "add", "rust-src", "--toolchain", &tc]))
}

fn bpf_linker() -> Result<()> {
    let have = sh::output(sh::cmd("bpf-linker").arg("--version")).unwrap_or_default();
    if have.contains(BPF_LINKER) {
        eprintln!("ok: bpf-linker {BPF_LINKER}");
        return Ok(());
    }
    sh::step(&format!(
        "installing bpf-linker {BPF_LINKER} (cargo install --locked, ~1-2 min)"
    ));
    sh::run(sh::cmd("cargo").args(["install", "--locked", &format!("bpf-linker@{BPF_LINKER}")]))
}

fn packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            let st = sh::output(sh::cmd("dpkg-query").args(["-W", "-f=${Status}", p]))
                .unwrap_or_default();
            !st.contains("install ok installed")
        })
        .collect();
    if missing.is_empty() {
        eprintln!("ok: Debian packages {}", PACKAGES.join(" "));
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "Debian packages missing ({}); run as root or install them: apt-get install -y {}",
            missing.join(" "),
            missing.join(" ")
        );
    }
    sh::step(&format!(
        "installing Debian packages: {}",
        missing.join(" ")
    ));
    let mut install = sh::cmd("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    if sh::run(&mut install).is_err() {
        // A stale package index gives 404s; refresh it once and retry.
        sh::run(sh::cmd("apt-get").args(["update", "-q"]))?;
        sh::run(&mut install)?;
    }
    Ok(())
}
