//! Issue 12, the CI recipes of `deploy/ci/` run by a local stand-in for the runner: the
//! GitHub Actions job's and the GitLab job's own commands, read from the files the README
//! shows, in a repository made here (a test suite and its committed baseline), as root with a
//! `sudo` that just runs the command (the runner's passwordless sudo). The one step not run is
//! the install from a sysaudit checkout: the suite's own build is that binary, put on PATH.
//! What the platform does with the files (code scanning, the test summary) is checked by
//! reading them as it would: the SARIF against the schema, the JUnit with junitparser.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use sysaudit_tests::*;
use yaml_rust2::{Yaml, YamlLoader};

fn recipe(name: &str) -> Yaml {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/ci")
        .join(name);
    let text = std::fs::read_to_string(&p).expect("recipe");
    YamlLoader::load_from_str(&text)
        .expect("recipe YAML")
        .remove(0)
}

/// A repository with a test suite (`./run-tests`, its mode from SUITE_MODE) and, on PATH,
/// `sysaudit` and a `sudo` that runs its command (`-E` and `env` kept as a runner would).
struct Repo {
    dir: TempDir,
    path_dir: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        let dir = TempDir::new("recipe");
        std::fs::copy(fixture("ci_suite"), dir.0.join("suite-bin")).expect("suite");
        script(
            &dir.0.join("run-tests"),
            "#!/bin/sh\nexec ./suite-bin \"${SUITE_MODE:-clean}\"\n",
        );
        let path_dir = dir.0.join(".bin");
        std::fs::create_dir_all(&path_dir).expect("bin dir");
        std::os::unix::fs::symlink(bin(), path_dir.join("sysaudit")).expect("sysaudit on PATH");
        script(
            &path_dir.join("sudo"),
            "#!/bin/sh\n[ \"$1\" = -E ] && shift\nexec \"$@\"\n",
        );
        std::fs::create_dir_all(dir.0.join("ci")).expect("ci dir");
        Repo { dir, path_dir }
    }

    /// Run one step's script as the runner would (bash, errexit), in the repository.
    fn run(&self, script: &str, mode: &str, extra: &[(&str, &Path)]) -> (i32, String) {
        let path = format!(
            "{}:{}",
            self.path_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new("bash");
        c.args(["-e", "-c", script])
            .current_dir(&self.dir.0)
            .env("PATH", path)
            .env("SUITE_MODE", mode);
        for (k, v) in extra {
            c.env(k, v);
        }
        let out = c.output().expect("bash");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }
}

fn script(p: &Path, text: &str) {
    std::fs::write(p, text).expect("script");
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The baseline as the recipes' comments say to make it, committed in the repository.
fn make_baseline(repo: &Repo) {
    let (code, out) = repo.run(
        "sysaudit ci --profile-out ci/sysaudit-baseline.json -- ./run-tests",
        "clean",
        &[],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn the_github_actions_recipe_runs_passes_clean_and_fails_on_drift() {
    if !privileged() {
        return;
    }
    let doc = recipe("github-actions.yml");
    let steps = doc["jobs"]["test"]["steps"]
        .as_vec()
        .expect("steps")
        .clone();
    for (mode, want) in [("clean", 0), ("bad", 4)] {
        let repo = Repo::new();
        make_baseline(&repo);
        let summary = repo.file("step-summary.md");
        let env: [(&str, &Path); 3] = [
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_WORKSPACE", &repo.dir.0),
            ("GITHUB_STEP_SUMMARY", &summary),
        ];
        let mut ran = 0;
        for step in &steps {
            let name = step["name"].as_str().unwrap_or_default();
            if let Some(script) = step["run"].as_str() {
                if name == "Install sysaudit" {
                    continue;
                }
                let (code, out) = repo.run(script, mode, &env);
                assert_eq!(code, want, "{name} ({mode}):\n{out}");
                if mode == "bad" {
                    assert!(out.contains("::error file="), "{out}");
                }
                ran += 1;
            }
            match step["uses"].as_str() {
                Some(u) if u.starts_with("github/codeql-action/upload-sarif") => {
                    let f = repo.file(step["with"]["sarif_file"].as_str().expect("sarif_file"));
                    let text = std::fs::read_to_string(&f).expect("the SARIF to upload");
                    let v: serde_json::Value = serde_json::from_str(&text).expect("SARIF JSON");
                    assert_eq!(v["version"], "2.1.0");
                }
                Some(u) if u.starts_with("actions/upload-artifact") => {
                    for p in step["with"]["path"].as_str().unwrap_or_default().lines() {
                        assert!(repo.file(p.trim()).is_file(), "artifact {p}");
                    }
                }
                _ => {}
            }
        }
        assert_eq!(ran, 1, "the recipe's sysaudit step ran");
        let cases = python_check("check_junit.py", &[&repo.file("sysaudit-junit.xml")]);
        let failed = cases
            .as_array()
            .expect("cases")
            .iter()
            .filter(|c| c["failed"] == true)
            .count();
        assert_eq!(failed > 0, mode == "bad", "{cases}");
        assert!(std::fs::read_to_string(&summary)
            .expect("step summary")
            .contains("### sysaudit ci"));
    }
}

#[test]
fn the_gitlab_recipe_runs_and_publishes_its_junit_report() {
    if !privileged() {
        return;
    }
    let doc = recipe("gitlab-ci.yml");
    let job = &doc["sysaudit-tests"];
    let script: Vec<String> = job["script"]
        .as_vec()
        .expect("script")
        .iter()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect();
    for (mode, want) in [("clean", 0), ("bad", 4)] {
        let repo = Repo::new();
        make_baseline(&repo);
        let (code, out) = repo.run(&script.join("\n"), mode, &[]);
        assert_eq!(code, want, "{mode}:\n{out}");
        for p in job["artifacts"]["paths"].as_vec().expect("paths") {
            assert!(repo.file(p.as_str().expect("path")).is_file(), "{p:?}");
        }
        let junit = job["artifacts"]["reports"]["junit"]
            .as_str()
            .expect("junit report");
        let cases = python_check("check_junit.py", &[&repo.file(junit)]);
        assert!(cases.as_array().is_some_and(|c| !c.is_empty()), "{cases}");
    }
}
