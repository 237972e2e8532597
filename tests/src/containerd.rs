//! containerd for the end-to-end tests, started by hand (design notes §5) with a private root,
//! state and socket: its own API driven with `ctr`, its CRI plugin driven over gRPC as a
//! kubelet drives it (RunPodSandbox → CreateContainer → StartContainer). Pods get an address
//! from Debian's CNI plugins (a bridge of our own). Everything is removed when dropped.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use k8s_cri::v1::{
    image_service_client::ImageServiceClient, runtime_service_client::RuntimeServiceClient,
    security_profile, ContainerConfig, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ImageSpec, ImageStatusRequest, LinuxContainerConfig,
    LinuxContainerSecurityContext, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    ListPodSandboxRequest, NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata,
    RemovePodSandboxRequest, RunPodSandboxRequest, SecurityProfile, StartContainerRequest,
    StopPodSandboxRequest,
};
use tonic::transport::Channel;

use crate::{
    engines::{remove_cgroups, terminate, unmount_below, ImageTar},
    TempDir,
};

/// The image the pods' sandboxes run (a busybox that sleeps: the CRI's "pause").
pub const PAUSE: &str = "docker.io/sysaudit-test/pause:1.0";
/// The bridge the pods' network is on.
const BRIDGE: &str = "sysaudit-cni0";

/// A containerd of our own, with its CRI plugin.
pub struct Containerd {
    child: Child,
    /// Its socket (what `sysaudit watch --containerd-socket` is given).
    pub sock: PathBuf,
    dir: TempDir,
}

impl Containerd {
    /// Start containerd and wait until it answers.
    pub fn start() -> Containerd {
        let dir = TempDir::new("containerd");
        let d = dir.0.display().to_string();
        let sock = dir.0.join("containerd.sock");
        for sub in ["cni-conf", "logs"] {
            std::fs::create_dir_all(dir.0.join(sub)).expect("containerd dirs");
        }
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE}"
  # CAP_SYS_RESOURCE is missing here; there is no AppArmor.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni-conf"
"#
        );
        std::fs::write(dir.0.join("config.toml"), config).expect("containerd config");
        let cni = format!(
            r#"{{"cniVersion": "0.4.0", "name": "sysaudit-test", "plugins": [{{"type": "bridge",
              "bridge": "{BRIDGE}", "isGateway": false, "ipMasq": false,
              "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "10.89.77.0/24"}}]],
                        "dataDir": "{d}/ipam"}}}}]}}"#
        );
        std::fs::write(dir.0.join("cni-conf/10-sysaudit.conflist"), cni).expect("CNI config");
        let child = Containerd::spawn(&dir.0);
        let c = Containerd { child, sock, dir };
        c.wait_ready();
        c
    }

    /// [`Containerd::start`], with the busybox image and the sandboxes' pause image in the
    /// CRI's namespace.
    pub fn start_for_pods() -> Containerd {
        let c = Containerd::start();
        c.import("k8s.io", "sysaudit-test/busybox:1.0", &["sh"]);
        c.import("k8s.io", PAUSE, &["sleep", "1000000"]);
        c
    }

    fn spawn(dir: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("containerd.log"))
            .expect("containerd log");
        Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start containerd (Debian's containerd; `cargo xtask setup` installs it)")
    }

    fn wait_ready(&self) {
        let t = Instant::now();
        while !self.ctr_status("default", &["version"]) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "containerd did not answer:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the daemon (its containers' shims go on), and its socket with it.
    pub fn stop_daemon(&mut self) {
        terminate(&mut self.child, Duration::from_secs(10));
    }

    /// Start it again on the same root, state and socket.
    pub fn restart(&mut self) {
        self.child = Containerd::spawn(&self.dir.0);
        self.wait_ready();
    }

    fn ctr_cmd(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(&self.sock).args(["-n", ns]).args(args);
        c
    }

    fn ctr_status(&self, ns: &str, args: &[&str]) -> bool {
        self.ctr_cmd(ns, args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// `ctr -n NS ARGS`, failing the test with ctr's stderr unless it succeeds.
    pub fn ctr(&self, ns: &str, args: &[&str]) -> String {
        let out = self.ctr_cmd(ns, args).output().expect("run ctr");
        assert!(
            out.status.success(),
            "ctr -n {ns} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Import image `name` (a static busybox running `cmd`) into namespace `ns`.
    pub fn import(&self, ns: &str, name: &str, cmd: &[&str]) {
        let t = TempDir::new("image");
        let tar = ImageTar::busybox(&t, name, cmd);
        self.ctr(ns, &["images", "import", tar.to_str().expect("UTF-8")]);
    }

    /// The CRI client, as a kubelet holds it.
    pub fn kubelet(&self) -> Kubelet {
        Kubelet::connect(&self.sock, &self.dir.0.join("logs"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("containerd.log")).unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if let Some(k) = Kubelet::try_connect(&self.sock, &self.dir.0.join("logs")) {
            k.remove_pods();
        }
        for ns in ["default", "k8s.io"] {
            let ids = self.ctr_cmd(ns, &["containers", "ls", "-q"]).output();
            let ids = ids.map(|o| String::from_utf8_lossy(&o.stdout).to_string());
            for id in ids.unwrap_or_default().split_whitespace() {
                let _ = self
                    .ctr_cmd(ns, &["tasks", "kill", "-s", "SIGKILL", id])
                    .output();
                thread::sleep(Duration::from_millis(100));
                let _ = self.ctr_cmd(ns, &["tasks", "rm", "-f", id]).output();
                let _ = self.ctr_cmd(ns, &["containers", "rm", id]).output();
            }
        }
        terminate(&mut self.child, Duration::from_secs(10));
        kill_shims(&self.sock);
        unmount_below(&self.dir.0);
        remove_cgroups("default");
        remove_cgroups("kubepods");
        let _ = Command::new("ip").args(["link", "del", BRIDGE]).output();
    }
}

/// The runc shims of our containerd (they outlive it): found by the socket they were given.
fn kill_shims(sock: &Path) {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let needle = sock.to_string_lossy().to_string();
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("containerd-shim") && cmdline.contains(&needle) {
            // SAFETY: a shim of the daemon this harness started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A pod as the kubelet describes it.
pub struct Pod<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub uid: &'a str,
    pub labels: &'a [(&'a str, &'a str)],
}

/// A CRI client driving pods as a kubelet does.
pub struct Kubelet {
    rt: tokio::runtime::Runtime,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    logs: PathBuf,
}

impl Kubelet {
    fn try_connect(sock: &Path, logs: &Path) -> Option<Kubelet> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        let ch = rt.block_on(containerd_client::connect(sock)).ok()?;
        Some(Kubelet {
            rt,
            runtime: RuntimeServiceClient::new(ch.clone()),
            images: ImageServiceClient::new(ch),
            logs: logs.to_path_buf(),
        })
    }

    fn connect(sock: &Path, logs: &Path) -> Kubelet {
        Kubelet::try_connect(sock, logs).expect("connect to the CRI")
    }

    /// The sandbox config of `pod` (its cgroup under the kubelet's cgroupfs-driver parent).
    fn sandbox_config(&self, pod: &Pod<'_>) -> PodSandboxConfig {
        let mut labels: HashMap<String, String> = pod
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.extend(kubelet_labels(pod));
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: pod.name.into(),
                uid: pod.uid.into(),
                namespace: pod.namespace.into(),
                attempt: 0,
            }),
            hostname: pod.name.into(),
            log_directory: self.logs.join(pod.uid).to_string_lossy().into(),
            labels,
            annotations: [("kubernetes.io/config.source".into(), "api".into())].into(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubepods/besteffort/pod{}", pod.uid),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// RunPodSandbox: the pod's sandbox id.
    pub fn run_pod(&mut self, pod: &Pod<'_>) -> String {
        let config = self.sandbox_config(pod);
        let r = self
            .rt
            .block_on(self.runtime.run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            }));
        r.expect("RunPodSandbox").into_inner().pod_sandbox_id
    }

    /// CreateContainer then StartContainer of container `name` in the pod, running `cmd` from
    /// `image` (by the id the image service gives it, as the kubelet passes it): its id.
    pub fn start_container(
        &mut self,
        sandbox: &str,
        pod: &Pod<'_>,
        name: &str,
        image: &str,
        cmd: &[&str],
    ) -> String {
        self.start_confined(sandbox, pod, name, image, cmd, None)
    }

    /// As [`Kubelet::start_container`], under the seccomp profile at `seccomp` (a
    /// `localhostProfile`) when given.
    pub fn start_confined(
        &mut self,
        sandbox: &str,
        pod: &Pod<'_>,
        name: &str,
        image: &str,
        cmd: &[&str],
        seccomp: Option<&Path>,
    ) -> String {
        let status = self
            .rt
            .block_on(self.images.image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                verbose: false,
            }));
        let image_id = status
            .expect("ImageStatus")
            .into_inner()
            .image
            .map(|i| i.id)
            .unwrap_or_else(|| panic!("no image {image}"));
        let mut labels = kubelet_labels(pod);
        labels.insert("io.kubernetes.container.name".into(), name.into());
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: name.into(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: image_id,
                user_specified_image: image.into(),
                ..Default::default()
            }),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            labels,
            annotations: [("io.kubernetes.container.restartCount".into(), "0".into())].into(),
            log_path: format!("{name}/0.log"),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(pod_namespaces()),
                    seccomp: seccomp.map(|p| SecurityProfile {
                        profile_type: security_profile::ProfileType::Localhost as i32,
                        localhost_ref: p.to_string_lossy().into(),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .rt
            .block_on(self.runtime.create_container(CreateContainerRequest {
                pod_sandbox_id: sandbox.into(),
                config: Some(config),
                sandbox_config: Some(self.sandbox_config(pod)),
            }));
        let id = created.expect("CreateContainer").into_inner().container_id;
        let started = self
            .rt
            .block_on(self.runtime.start_container(StartContainerRequest {
                container_id: id.clone(),
            }));
        started.expect("StartContainer");
        id
    }

    /// The exit code of container `id` once it has exited (within 20 s).
    pub fn exit_code(&mut self, id: &str) -> i32 {
        let t = Instant::now();
        loop {
            let s = self
                .rt
                .block_on(self.runtime.container_status(ContainerStatusRequest {
                    container_id: id.into(),
                    verbose: false,
                }));
            let s = s.expect("ContainerStatus").into_inner().status;
            let s = s.expect("a status");
            if s.state == ContainerState::ContainerExited as i32 {
                return s.exit_code;
            }
            assert!(t.elapsed() < Duration::from_secs(20), "{id} still runs");
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// StopPodSandbox: the pod's processes end (its cgroup empties).
    pub fn stop_pod(&mut self, sandbox: &str) {
        let r = self
            .rt
            .block_on(self.runtime.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: sandbox.into(),
            }));
        r.expect("StopPodSandbox");
    }

    /// StopPodSandbox and RemovePodSandbox for every pod.
    pub fn remove_pods(mut self) {
        let pods = self.rt.block_on(
            self.runtime
                .list_pod_sandbox(ListPodSandboxRequest::default()),
        );
        let Ok(pods) = pods else { return };
        for p in pods.into_inner().items {
            let _ = self
                .rt
                .block_on(self.runtime.stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: p.id.clone(),
                }));
            let _ = self
                .rt
                .block_on(self.runtime.remove_pod_sandbox(RemovePodSandboxRequest {
                    pod_sandbox_id: p.id,
                }));
        }
    }
}

/// The labels the kubelet puts on a pod's sandbox and containers.
fn kubelet_labels(pod: &Pod<'_>) -> HashMap<String, String> {
    [
        ("io.kubernetes.pod.name", pod.name),
        ("io.kubernetes.pod.namespace", pod.namespace),
        ("io.kubernetes.pod.uid", pod.uid),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A pod's own network, pid and ipc namespaces, shared by its containers (the default).
fn pod_namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Pod as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}
