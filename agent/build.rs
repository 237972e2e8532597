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
    )?;
    sanitize_btf_names(&out_dir.join("sysaudit"))
}

/// bpf-linker 0.10.0 sanitizes Rust generic names of structs for the kernel's BTF checker but
/// not of unions: aya-log-ebpf's level global brings `MaybeUninit<u8>`, and the kernel refuses
/// the whole BTF ("Invalid name"). Fixed upstream after 0.10.0 (aya-rs/bpf-linker#346); until
/// the pinned linker has it, rewrite such names in place, as the linker does for structs
/// (same length: every byte that is not an identifier byte becomes `_`). Strings with blanks
/// are source lines for line info, left alone.
fn sanitize_btf_names(path: &std::path::Path) -> anyhow::Result<()> {
    use object::{Object, ObjectSection};
    let mut data = fs::read(path)?;
    let Some((start, len)) = object::File::parse(&*data)?
        .section_by_name(".BTF")
        .and_then(|s| s.file_range())
    else {
        return Ok(());
    };
    let (start, len) = (start as usize, len as usize);
    let btf = data
        .get_mut(start..start + len)
        .ok_or_else(|| anyhow::anyhow!(".BTF section out of the file"))?;
    let u32_at = |b: &[u8], at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let (Some(hdr_len), Some(str_off), Some(str_len)) =
        (u32_at(btf, 4), u32_at(btf, 16), u32_at(btf, 20))
    else {
        anyhow::bail!("short .BTF header");
    };
    if btf.get(..2) != Some(&[0x9f, 0xeb]) {
        anyhow::bail!(".BTF section without the BTF magic");
    }
    let strings = btf
        .get_mut(hdr_len + str_off..hdr_len + str_off + str_len)
        .ok_or_else(|| anyhow::anyhow!(".BTF string table out of its section"))?;
    let mut changed = false;
    for s in strings.split_mut(|b| *b == 0) {
        let generic = s.iter().any(|b| matches!(b, b'<' | b'>'));
        if generic && !s.iter().any(u8::is_ascii_whitespace) {
            for b in s
                .iter_mut()
                .filter(|b| !(b.is_ascii_alphanumeric() || **b == b'_'))
            {
                *b = b'_';
                changed = true;
            }
        }
    }
    if changed {
        fs::write(path, data)?;
    }
    Ok(())
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
