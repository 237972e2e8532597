//! The names conditions compare `fd.*ip.name` with, resolved to addresses the way Falco's
//! DNS manager does: `fd.sip.name = "api.example.com"` holds when the server address is one
//! the name resolves to; as an output field it names an address by a name the rules gave.
//!
//! A name is resolved (getaddrinfo, through `ToSocketAddrs`: /etc/hosts, then DNS) the first
//! time it is compared, then again in the background every 10 s, the wait doubling up to
//! 320 s while the answer stays the same; a name unused for an hour is forgotten (libsinsp's
//! timings). The event path only reads the table.

use std::{
    collections::HashMap,
    net::{IpAddr, ToSocketAddrs},
    sync::{
        atomic::{AtomicU64, Ordering},
        LazyLock, Once, RwLock,
    },
    time::{Duration, Instant},
};

const FIRST_REFRESH: Duration = Duration::from_secs(10);
const MAX_REFRESH: Duration = Duration::from_secs(320);
const FORGET_AFTER: Duration = Duration::from_secs(3600);

struct Entry {
    addrs: Vec<IpAddr>,
    resolved: Instant,
    /// When last compared or named: seconds since [`EPOCH`], set under the read lock.
    used: AtomicU64,
    wait: Duration,
}

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn secs(t: Instant) -> u64 {
    t.saturating_duration_since(*EPOCH).as_secs()
}

static NAMES: RwLock<Option<HashMap<String, Entry>>> = RwLock::new(None);
static REFRESHER: Once = Once::new();

/// The addresses `name` resolves to now (none when it does not resolve).
fn resolve(name: &str) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = (name, 0)
        .to_socket_addrs()
        .map(|it| it.map(|a| a.ip()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether `ip` is one of the addresses `name` resolves to.
pub(crate) fn matches(name: &str, ip: IpAddr) -> bool {
    let now = Instant::now();
    if let Ok(t) = NAMES.read() {
        if let Some(e) = t.as_ref().and_then(|t| t.get(name)) {
            e.used.store(secs(now), Ordering::Relaxed);
            return e.addrs.contains(&ip);
        }
    }
    // First use: resolved here, as libsinsp does, so a replay sees the same answer a live
    // run would; later answers come from the refresher.
    let addrs = resolve(name);
    let hit = addrs.contains(&ip);
    if let Ok(mut t) = NAMES.write() {
        t.get_or_insert_with(HashMap::new).insert(
            name.to_string(),
            Entry {
                addrs,
                resolved: now,
                used: AtomicU64::new(secs(now)),
                wait: FIRST_REFRESH,
            },
        );
    }
    REFRESHER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("dns".into())
            .spawn(refresh_forever);
        if let Err(e) = spawned {
            log::warn!("cannot start the name refresher ({e}): names keep their first answer");
        }
    });
    hit
}

/// A name the rules compared with that `ip` is an address of (the first in name order).
pub(crate) fn name_of(ip: IpAddr) -> Option<String> {
    let t = NAMES.read().ok()?;
    let (name, e) = t
        .as_ref()?
        .iter()
        .filter(|(_, e)| e.addrs.contains(&ip))
        .min_by(|a, b| a.0.cmp(b.0))?;
    e.used.store(secs(Instant::now()), Ordering::Relaxed);
    Some(name.clone())
}

fn lookup<R>(name: &str, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
    let mut t = NAMES.write().ok()?;
    t.as_mut()?.get_mut(name).map(f)
}

fn refresh_forever() {
    loop {
        std::thread::sleep(FIRST_REFRESH);
        refresh(Instant::now());
    }
}

/// One pass: forget names unused for an hour, re-resolve those whose wait is over. The
/// lookups run without the lock held (a slow DNS must not stall the event path).
fn refresh(now: Instant) {
    let due: Vec<String> = match NAMES.write() {
        Ok(mut t) => {
            let Some(t) = t.as_mut() else { return };
            let now_s = secs(now);
            t.retain(|_, e| {
                now_s.saturating_sub(e.used.load(Ordering::Relaxed)) < FORGET_AFTER.as_secs()
            });
            t.iter()
                .filter(|(_, e)| now.duration_since(e.resolved) >= e.wait)
                .map(|(n, _)| n.clone())
                .collect()
        }
        Err(_) => return,
    };
    for name in due {
        let addrs = resolve(&name);
        let _ = lookup(&name, |e| {
            e.resolved = now;
            if e.addrs == addrs {
                e.wait = (e.wait * 2).min(MAX_REFRESH);
            } else {
                e.addrs = addrs;
                e.wait = FIRST_REFRESH;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_through_etc_hosts_and_names_its_address() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(matches("localhost", lo));
        assert!(!matches("localhost", "192.0.2.1".parse().unwrap()));
        assert_eq!(name_of(lo).as_deref(), Some("localhost"));
        assert!(!matches("name.invalid", lo), "RFC 6761: never resolves");
        assert_eq!(name_of("192.0.2.1".parse().unwrap()), None);
    }

    #[test]
    fn an_unchanged_answer_doubles_the_wait_up_to_its_bound() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(matches("localhost.", lo) || matches("localhost", lo));
        let later = Instant::now() + Duration::from_secs(700);
        for _ in 0..8 {
            refresh(later);
        }
        let wait = lookup("localhost", |e| e.wait).unwrap();
        assert!(wait > FIRST_REFRESH && wait <= MAX_REFRESH, "{wait:?}");
    }
}
