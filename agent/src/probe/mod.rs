//! Loading, configuring and attaching the kernel programs; reading their ring buffer, maps and
//! counters. Everything aya-specific lives under this module.

pub(crate) mod btf;
pub(crate) mod decode;
pub(crate) mod paths;
pub(crate) mod ring;
pub(crate) mod tune;

pub(crate) use tune::SyscallSet;

use aya::{
    maps::{Array, HashMap as BpfHashMap, MapData, MapError, PerCpuArray, RingBuf},
    programs::{BtfTracePoint, Program, ProgramError},
    Ebpf, EbpfLoader,
};
use sysaudit_common::{abi, global, map, mode, scope, Counters, Profile, MAX_SYSCALLS};

use crate::syscalls::Abi;

/// The eBPF object built by `build.rs` (empty when the BPF toolchain was missing).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sysaudit"));

#[derive(Debug, thiserror::Error)]
pub(crate) enum ProbeError {
    #[error("this sysaudit binary was built without its eBPF programs (bpf-linker or rust-src was missing); rebuild after `cargo xtask setup`")]
    NoObject,
    #[error("loading eBPF programs needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN); run sysaudit as root")]
    NotRoot,
    #[error("the kernel has no BTF ({0} is missing): sysaudit needs a kernel built with CONFIG_DEBUG_INFO_BTF")]
    NoBtf(String),
    #[error("reading the kernel's BTF: {0}")]
    Btf(String),
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error(
        "the kernel verifier rejected program {program}: {error}\n--- verifier log ---\n{log}"
    )]
    Verifier {
        program: &'static str,
        error: std::io::Error,
        log: String,
    },
    #[error("program {program}: {source}")]
    Program {
        program: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: MapError,
    },
    #[error("cannot stat the host pid namespace (/proc/self/ns/pid)")]
    NoPidns,
    #[error("no map {0} in the eBPF object")]
    MissingMap(&'static str),
}

/// Which tasks the syscall programs look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Everything (`--host`).
    All,
    /// Every task outside the host pid namespace.
    Containers,
    /// These cgroups (id, level) and everything below them.
    Cgroups(Vec<(u64, u32)>),
    /// Both: these cgroups and below, and every task outside the host pid namespace.
    CgroupsAndContainers(Vec<(u64, u32)>),
}

impl Scope {
    /// The scope roots, (id, level).
    fn cgroups(&self) -> &[(u64, u32)] {
        match self {
            Scope::Cgroups(v) | Scope::CgroupsAndContainers(v) => v,
            Scope::All | Scope::Containers => &[],
        }
    }
}

/// What to load and how to configure it.
#[derive(Clone, Debug)]
pub(crate) struct ProbeConfig {
    pub trace: bool,
    pub profile: bool,
    pub scope: Scope,
    /// Syscalls to trace (trace mode).
    pub interesting: SyscallSet,
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ring_bytes: u32,
    /// Profile mode: cgroups to record from the start, with their gate.
    pub profiles: Vec<(u64, u32)>,
    /// Profile mode: how many cgroups the kernel can record at once.
    pub profile_entries: u32,
    /// Trace mode: opens the rules cannot match, dropped in the kernel.
    pub path_filter: Option<paths::PathTables>,
    /// Trace mode: copy the first bytes of I/O buffers (a rule reads `evt.buffer`).
    pub buffers: bool,
    /// Profile mode: say who made each syscall first in each recorded cgroup.
    pub firsts: bool,
}

impl ProbeConfig {
    /// Stream the interesting syscalls of the scope through the ring buffer.
    pub(crate) fn trace(scope: Scope, interesting: SyscallSet, ring_bytes: u32) -> ProbeConfig {
        ProbeConfig {
            trace: true,
            profile: false,
            scope,
            interesting,
            ring_bytes,
            profiles: Vec::new(),
            profile_entries: 1,
            path_filter: None,
            buffers: false,
            firsts: false,
        }
    }

    /// Record per-cgroup syscall bitmaps in the kernel (the ring carries lifecycle records
    /// only): `profiles` are the cgroups registered up front with their gate, `entries` how
    /// many cgroups the kernel can hold.
    pub(crate) fn profile(
        scope: Scope,
        profiles: Vec<(u64, u32)>,
        entries: u32,
        ring_bytes: u32,
    ) -> ProbeConfig {
        ProbeConfig {
            trace: false,
            profile: true,
            scope,
            interesting: SyscallSet::default(),
            ring_bytes,
            profiles,
            profile_entries: entries,
            path_filter: None,
            buffers: false,
            firsts: false,
        }
    }

    /// Also record profiles (in the kernel) for up to `entries` cgroups.
    pub(crate) fn and_profile(mut self, entries: u32) -> ProbeConfig {
        self.profile = true;
        self.profile_entries = entries;
        self
    }

    /// The default ring: 2 MiB per possible CPU, rounded up to a power of two. A storm fills
    /// ~90 MB/s here; 64 KiB per CPU held 1.5 ms of it and lost records whenever the reader
    /// was scheduled out that long. Pages the reader touches count in its RSS.
    pub(crate) fn default_ring_bytes() -> u32 {
        let cpus = aya::util::nr_cpus().unwrap_or(1).clamp(1, 256) as u32;
        (2 * 1024 * 1024 * cpus).next_power_of_two()
    }
}

/// Loaded and attached programs.
pub(crate) struct Probe {
    ebpf: Ebpf,
    _links: Vec<aya::programs::tp_btf::BtfTracePointLinkId>,
    /// The programs' log ring (aya-log), forwarded to `log`.
    logger: Option<aya_log::EbpfLogger<&'static dyn log::Log>>,
    /// The ring buffer's size in bytes.
    ring_bytes: u32,
}

/// Check what can be checked before touching the kernel, with messages a user can act on.
pub(crate) fn preflight() -> Result<(), ProbeError> {
    if OBJECT.is_empty() {
        return Err(ProbeError::NoObject);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ProbeError::NotRoot);
    }
    if !std::path::Path::new(btf::VMLINUX_BTF).exists() {
        return Err(ProbeError::NoBtf(btf::VMLINUX_BTF.into()));
    }
    Ok(())
}

impl Probe {
    pub(crate) fn load(cfg: &ProbeConfig) -> Result<Probe, ProbeError> {
        Self::load_attaching(cfg, programs(cfg))
    }

    /// Only an empty `sys_enter` program: what any syscall hook costs on this machine, the
    /// floor the overhead benchmark compares against.
    pub(crate) fn hook_floor() -> Result<Probe, ProbeError> {
        let cfg = ProbeConfig {
            trace: false,
            ..ProbeConfig::trace(
                Scope::All,
                SyscallSet::default(),
                ProbeConfig::default_ring_bytes(),
            )
        };
        Self::load_attaching(&cfg, vec![("sys_enter_floor", "sys_enter")])
    }

    /// Load the object and attach `(program, tracepoint)` pairs.
    fn load_attaching(
        cfg: &ProbeConfig,
        programs: Vec<(&'static str, &'static str)>,
    ) -> Result<Probe, ProbeError> {
        preflight()?;
        raise_memlock();
        // Two parses of the kernel's BTF, one after the other: holding both at once was half
        // of the agent's peak RSS.
        let (offsets, vfs, uring) = {
            let kbtf = btf_rs::Btf::from_file(btf::VMLINUX_BTF)
                .map_err(|e| ProbeError::Btf(e.to_string()))?;
            let uring = if programs.iter().any(|(p, _)| p.starts_with("io_uring")) {
                btf::uring_offsets(&kbtf)
            } else {
                Default::default()
            };
            (btf::kernel_offsets(&kbtf)?, btf::vfs_offsets(&kbtf), uring)
        };
        // Without the offsets the io_uring programs would do nothing: not attached.
        let programs: Vec<_> = programs
            .into_iter()
            .filter(|(p, _)| uring.req_opcode != 0 || !p.starts_with("io_uring"))
            .collect();
        let btf = aya::Btf::from_sys_fs().map_err(|e| ProbeError::Btf(e.to_string()))?;

        let own_tgid = std::process::id();
        let mut m = 0u32;
        if cfg.trace {
            m |= mode::TRACE;
        }
        if cfg.profile {
            m |= mode::PROFILE;
        }
        if cfg.profile && cfg.firsts {
            m |= mode::FIRSTS;
        }
        let scope_kind = match &cfg.scope {
            Scope::All => scope::ALL,
            Scope::Containers => scope::CONTAINERS,
            Scope::Cgroups(_) => scope::CGROUPS,
            Scope::CgroupsAndContainers(_) => scope::CGROUPS_AND_CONTAINERS,
        };
        let levels = cfg
            .scope
            .cgroups()
            .iter()
            .fold(0u32, |acc, (_, l)| acc | 1 << l.min(&31));
        let (ns_dev, ns_ino) = crate::host::host_pidns().ok_or(ProbeError::NoPidns)?;
        let wake = (cfg.ring_bytes / 2) as u64;

        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global(global::OWN_TGID, &own_tgid, true)
            .override_global(global::MODE, &m, true)
            .override_global(global::SCOPE, &scope_kind, true)
            .override_global(global::SCOPE_LEVELS, &levels, true)
            .override_global(global::RING_WAKE_BYTES, &wake, true)
            .override_global(global::HOST_PIDNS_DEV, &ns_dev, true)
            .override_global(global::HOST_PID_LEVEL, &own_pid_level(), true)
            .override_global(
                global::PROFILE_SLOT_MASK,
                &(profile_slots(cfg.profile_entries) - 1),
                true,
            )
            .override_global(global::HOST_PIDNS_INO, &ns_ino, true)
            .override_global(global::OFFSETS, &offsets, true)
            .override_global(global::VFS, &vfs, true)
            .override_global(global::URING, &uring, true)
            // Kernel log statements above the agent's level stay off (aya-log's levels are
            // log's, as numbers).
            .override_global(aya_log::LEVEL, &(log::max_level() as u8), false)
            .map_max_entries(map::EVENTS, cfg.ring_bytes)
            .map_max_entries(map::PROFILES, cfg.profile_entries.max(1))
            .map_max_entries(map::PROFILE_SLOTS, profile_slots(cfg.profile_entries))
            .map_max_entries(map::SLOT_OWNERS, profile_slots(cfg.profile_entries))
            .load(OBJECT)?;

        configure_maps(&mut ebpf, cfg)?;
        let logger = match aya_log::EbpfLogger::init(&mut ebpf) {
            Ok(l) => Some(l),
            Err(e) => {
                log::warn!("the kernel programs' log is not available: {e}");
                None
            }
        };

        load_all(&mut ebpf, &btf, &programs)?;
        let mut links = Vec::new();
        for (program, _) in &programs {
            links.push(attach(&mut ebpf, program)?);
        }
        Ok(Probe {
            ebpf,
            _links: links,
            logger,
            ring_bytes: cfg.ring_bytes,
        })
    }

    /// Forward what the kernel programs logged (rare anomalies) to `log`.
    pub(crate) fn flush_logs(&mut self) {
        if let Some(l) = &mut self.logger {
            l.flush();
        }
    }

    /// Kernel counters summed over CPUs.
    pub(crate) fn counters(&self) -> Result<Counters, ProbeError> {
        let arr: PerCpuArray<&MapData, Counters> = get(&self.ebpf, map::COUNTERS)?;
        let vals = arr.get(&0, 0).map_err(failed(map::COUNTERS))?;
        let mut t = Counters::default();
        for c in vals.iter() {
            t.add(c);
        }
        Ok(t)
    }

    /// The ring buffer, taken out of the object (call once), and its size in bytes.
    pub(crate) fn take_ring(&mut self) -> Result<(RingBuf<MapData>, u32), ProbeError> {
        let m = self
            .ebpf
            .take_map(map::EVENTS)
            .ok_or(ProbeError::MissingMap(map::EVENTS))?;
        Ok((
            RingBuf::try_from(m).map_err(failed(map::EVENTS))?,
            self.ring_bytes,
        ))
    }

    /// Every cgroup's recorded syscalls (profile mode): the slots the kernel claimed, then
    /// the overflow map.
    pub(crate) fn profiles(&self) -> Result<Vec<(u64, Profile)>, ProbeError> {
        let owners: BpfHashMap<&MapData, u32, u64> = get(&self.ebpf, map::SLOT_OWNERS)?;
        let slots: Array<&MapData, Profile> = get(&self.ebpf, map::PROFILE_SLOTS)?;
        let mut out = Vec::new();
        for kv in owners.iter() {
            let (slot, id) = kv.map_err(failed(map::SLOT_OWNERS))?;
            let p = slots.get(&slot, 0).map_err(failed(map::PROFILE_SLOTS))?;
            if p.tag == id {
                out.push((id, p));
            }
        }
        let h: BpfHashMap<&MapData, u64, Profile> = get(&self.ebpf, map::PROFILES)?;
        for kv in h.iter() {
            out.push(kv.map_err(failed(map::PROFILES))?);
        }
        Ok(out)
    }
}

impl Probe {
    /// Start cgroup `cg`'s recording over, its gate left as it is: the serving phase of
    /// `profile --phases` begins with nothing seen. A syscall the kernel marks while the entry
    /// is rewritten may be lost from the new phase (a serving loop makes it again).
    pub(crate) fn reset_profile(&mut self, cg: u64) -> Result<(), ProbeError> {
        let slot = {
            let owners: BpfHashMap<&MapData, u32, u64> = get(&self.ebpf, map::SLOT_OWNERS)?;
            owners
                .iter()
                .filter_map(Result::ok)
                .find(|(_, id)| *id == cg)
                .map(|(s, _)| s)
        };
        let clear = |p: &mut Profile| p.seen = [[0; MAX_SYSCALLS]; abi::RECORDED];
        if let Some(slot) = slot {
            let mut slots: Array<&mut MapData, Profile> =
                get_mut(&mut self.ebpf, map::PROFILE_SLOTS)?;
            let mut p = slots.get(&slot, 0).map_err(failed(map::PROFILE_SLOTS))?;
            if p.tag == cg {
                clear(&mut p);
                slots.set(slot, p, 0).map_err(failed(map::PROFILE_SLOTS))?;
                return Ok(());
            }
        }
        let mut h: BpfHashMap<&mut MapData, u64, Profile> = get_mut(&mut self.ebpf, map::PROFILES)?;
        if let Ok(mut p) = h.get(&cg, 0) {
            clear(&mut p);
            h.insert(cg, p, 0).map_err(failed(map::PROFILES))?;
        }
        Ok(())
    }
}

/// Map `name` of the object as the typed map `M`.
fn get<'a, M>(ebpf: &'a Ebpf, name: &'static str) -> Result<M, ProbeError>
where
    M: TryFrom<&'a aya::maps::Map, Error = MapError>,
{
    let m = ebpf.map(name).ok_or(ProbeError::MissingMap(name))?;
    M::try_from(m).map_err(failed(name))
}

/// [`get`] for writing.
fn get_mut<'a, M>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<M, ProbeError>
where
    M: TryFrom<&'a mut aya::maps::Map, Error = MapError>,
{
    let m = ebpf.map_mut(name).ok_or(ProbeError::MissingMap(name))?;
    M::try_from(m).map_err(failed(name))
}

/// An operation on map `map` failed.
fn failed(map: &'static str) -> impl Fn(MapError) -> ProbeError {
    move |source| ProbeError::Map { map, source }
}

/// Kernel slots for `n` cgroups: the largest power of two not above it.
pub(crate) fn profile_slots(n: u32) -> u32 {
    let n = n.max(1);
    1 << (31 - n.leading_zeros())
}

fn configure_maps(ebpf: &mut Ebpf, cfg: &ProbeConfig) -> Result<(), ProbeError> {
    tune::write_interesting(ebpf, &cfg.interesting, false)?;
    tune::write_arg_specs(ebpf, cfg.path_filter.as_ref(), cfg.buffers, false)?;
    if let Some(f) = &cfg.path_filter {
        paths::write(ebpf, f)?;
    }
    let list = cfg.scope.cgroups();
    if !list.is_empty() {
        let mut h: BpfHashMap<&mut MapData, u64, u32> = get_mut(ebpf, map::SCOPE_CGROUPS)?;
        for (id, level) in list {
            h.insert(id, level, 0).map_err(failed(map::SCOPE_CGROUPS))?;
        }
    }
    // Registered cgroups take their slot, or the overflow map when it is taken.
    let mask = profile_slots(cfg.profile_entries) - 1;
    let mut taken = std::collections::HashSet::new();
    for (id, g) in &cfg.profiles {
        let p = Profile {
            tag: *id,
            gate: *g,
            pre_gate: 0,
            seen: [[0; MAX_SYSCALLS]; abi::RECORDED],
        };
        let slot = (*id as u32) & mask;
        if taken.insert(slot) {
            let mut owners: BpfHashMap<&mut MapData, u32, u64> = get_mut(ebpf, map::SLOT_OWNERS)?;
            owners
                .insert(slot, id, 0)
                .map_err(failed(map::SLOT_OWNERS))?;
            let mut slots: Array<&mut MapData, Profile> = get_mut(ebpf, map::PROFILE_SLOTS)?;
            slots.set(slot, p, 0).map_err(failed(map::PROFILE_SLOTS))?;
        } else {
            let mut h: BpfHashMap<&mut MapData, u64, Profile> = get_mut(ebpf, map::PROFILES)?;
            h.insert(id, p, 0).map_err(failed(map::PROFILES))?;
        }
    }
    Ok(())
}

/// The programs a mode needs; every program attached costs on every syscall.
fn programs(cfg: &ProbeConfig) -> Vec<(&'static str, &'static str)> {
    // Trace mode needs sys_enter only for the calls that never return.
    let trace_at_entry = cfg.trace
        && [Abi::X86_64, Abi::Ia32].iter().any(|abi| {
            ["exit", "exit_group"].iter().any(|n| {
                crate::syscalls::table::number(*abi, n)
                    .is_some_and(|nr| cfg.interesting.contains(*abi, nr))
            })
        });
    let mut names: Vec<&'static str> = Vec::new();
    if cfg.profile || trace_at_entry {
        names.push("sys_enter");
    }
    if cfg.trace {
        names.push("sys_exit");
    }
    // io_uring operations, when one they stand for is traced.
    if cfg.trace
        && (0..=u8::MAX).any(|op| {
            sysaudit_common::uring::syscall(op)
                .is_some_and(|(nr, _)| cfg.interesting.contains(Abi::X86_64, nr))
        })
    {
        names.extend(["io_uring_submit_req", "io_uring_complete"]);
    }
    names.extend([
        "sched_process_fork",
        "sched_process_exec",
        "sched_process_exit",
        "cgroup_mkdir",
        "cgroup_rmdir",
    ]);
    // Each program is named after its tracepoint.
    names.into_iter().map(|n| (n, n)).collect()
}

/// Load (verify) the programs of `wanted`, each on a thread of its own: the kernel's verifier
/// is most of the start-up (sched_process_exec alone took 0.9 s here, sys_exit 0.4 s), and it
/// runs on the calling thread's CPU.
fn load_all(
    ebpf: &mut Ebpf,
    btf: &aya::Btf,
    wanted: &[(&'static str, &'static str)],
) -> Result<(), ProbeError> {
    let jobs: Vec<(&'static str, &'static str, &mut Program)> = ebpf
        .programs_mut()
        .filter_map(|(name, prog)| {
            let (n, tp) = wanted.iter().find(|(n, _)| *n == name)?;
            Some((*n, *tp, prog))
        })
        .collect();
    if let Some((program, _)) = wanted.iter().find(|(n, _)| !jobs.iter().any(|j| j.0 == *n)) {
        let source = ProgramError::NotLoaded;
        return Err(ProbeError::Program { program, source });
    }
    std::thread::scope(|s| {
        let threads: Vec<_> = jobs
            .into_iter()
            .map(|(name, tp, prog)| s.spawn(move || load_one(name, tp, prog, btf)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<Result<Vec<()>, ProbeError>>()
    })
    .map(|_| ())
}

fn load_one(
    name: &'static str,
    tracepoint: &str,
    prog: &mut Program,
    btf: &aya::Btf,
) -> Result<(), ProbeError> {
    let prog: &mut BtfTracePoint = prog.try_into().map_err(|source| ProbeError::Program {
        program: name,
        source,
    })?;
    match prog.load(tracepoint, btf) {
        Ok(()) => Ok(()),
        Err(ProgramError::LoadError {
            io_error,
            verifier_log,
        }) => Err(ProbeError::Verifier {
            program: name,
            error: io_error,
            log: verifier_log.to_string(),
        }),
        Err(source) => Err(ProbeError::Program {
            program: name,
            source,
        }),
    }
}

/// Attach a loaded program.
fn attach(
    ebpf: &mut Ebpf,
    name: &'static str,
) -> Result<aya::programs::tp_btf::BtfTracePointLinkId, ProbeError> {
    let prog: &mut BtfTracePoint = ebpf
        .program_mut(name)
        .ok_or(ProbeError::Program {
            program: name,
            source: ProgramError::NotLoaded,
        })?
        .try_into()
        .map_err(|source| ProbeError::Program {
            program: name,
            source,
        })?;
    prog.attach().map_err(|source| ProbeError::Program {
        program: name,
        source,
    })
}

/// Depth of our own pid namespace: the number of pids in /proc/self/status's NSpid, minus one.
fn own_pid_level() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .map(|v| v.split_whitespace().count() as u32)
        })
        .map_or(0, |n| n.saturating_sub(1))
}

/// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; newer ones to the cgroup. Raising
/// it may be refused (no CAP_SYS_RESOURCE): that is fine on the kernels that matter.
fn raise_memlock() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } != 0 {
        log::debug!("could not raise RLIMIT_MEMLOCK (ignored on kernels >= 5.11)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The map names the agent uses are the maps the built object holds.
    #[test]
    fn map_names_match_the_object() {
        if OBJECT.is_empty() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI builds the eBPF object: it must not be empty"
            );
            eprintln!("SKIPPED map_names_match_the_object: built without the eBPF object");
            return;
        }
        let obj = aya_obj::Object::parse(OBJECT).expect("the built object parses");
        let mut in_object: Vec<&str> = obj
            .maps
            .keys()
            .map(String::as_str)
            .filter(|n| !n.starts_with('.'))
            .collect();
        in_object.sort_unstable();
        let mut ours = map::ALL.to_vec();
        ours.sort_unstable();
        assert_eq!(in_object, ours);
    }
}
