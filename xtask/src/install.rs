//! `cargo xtask install`: the release binary, its man pages and shell completions (generated
//! from the clap definitions by `sysaudit generate`), the systemd unit and, when there is
//! none yet, the default configuration. `--destdir` stages it all under a directory (as
//! packagers do) instead of `/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::{root, sh};

pub(crate) fn run(bin: &Path, prefix: &Path, destdir: Option<&Path>) -> Result<()> {
    // `/usr/local` under DESTDIR is DESTDIR/usr/local.
    let under = |p: &Path| -> PathBuf {
        match destdir {
            Some(d) => d.join(p.strip_prefix("/").unwrap_or(p)),
            None => p.to_path_buf(),
        }
    };
    let bin_dir = under(&prefix.join("bin"));
    let share = under(&prefix.join("share"));
    let installed_bin = prefix.join("bin/sysaudit");

    sh::step(&format!("installing the binary into {}", bin_dir.display()));
    mkdir(&bin_dir)?;
    copy(bin, &bin_dir.join("sysaudit"))?;

    let man = share.join("man/man1");
    sh::step(&format!("man pages into {}", man.display()));
    sh::run(sh::cmd(bin).args(["generate", "man", "--dir"]).arg(&man))?;

    sh::step("shell completions (bash, zsh, fish)");
    for (shell, rel) in [
        ("bash", "bash-completion/completions/sysaudit"),
        ("zsh", "zsh/site-functions/_sysaudit"),
        ("fish", "fish/vendor_completions.d/sysaudit.fish"),
    ] {
        let text = sh::output(sh::cmd(bin).args(["generate", shell]))
            .with_context(|| format!("generating {shell} completions"))?;
        let dst = share.join(rel);
        mkdir(dst.parent().unwrap_or(&share))?;
        std::fs::write(&dst, text).with_context(|| dst.display().to_string())?;
    }

    let unit_dir = under(Path::new("/etc/systemd/system"));
    sh::step(&format!("the systemd unit into {}", unit_dir.display()));
    let unit = std::fs::read_to_string(root().join("deploy/systemd/sysaudit.service"))?.replace(
        "/usr/local/bin/sysaudit",
        &installed_bin.display().to_string(),
    );
    mkdir(&unit_dir)?;
    std::fs::write(unit_dir.join("sysaudit.service"), unit)?;

    let conf = under(Path::new("/etc/sysaudit/sysaudit.yaml"));
    if conf.exists() {
        eprintln!("ok: {} is there (left as it is)", conf.display());
    } else {
        sh::step(&format!(
            "the default configuration into {}",
            conf.display()
        ));
        mkdir(conf.parent().unwrap_or(Path::new("/")))?;
        copy(&root().join("deploy/sysaudit.yaml"), &conf)?;
    }
    eprintln!(
        "installed; start it with `systemctl daemon-reload && systemctl enable --now sysaudit`"
    );
    Ok(())
}

fn mkdir(d: &Path) -> Result<()> {
    std::fs::create_dir_all(d).with_context(|| d.display().to_string())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("{} -> {}", from.display(), to.display()))
}
