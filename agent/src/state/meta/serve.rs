//! The task that answers the cache's lookups: one per container, against the engine its
//! cgroup names, retried with back-off; and a ping per engine that says which are up.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    containerd, cri, docker, engine_of, podman, Ask, Engine, Meta, MetaError, MetaStats, Sockets,
    ALL,
};
use crate::{messages::message, state::cgroup_path::Runtime};

/// How often an engine that is down is asked whether it is back.
const PING_EVERY: Duration = Duration::from_secs(1);
/// How long one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Tries of one container's lookup, the wait doubling from `FIRST_RETRY`.
const TRIES: u32 = 6;
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// Answer lookups until the cache is dropped. Each runs in its own task so that a slow engine
/// holds up only its own containers.
pub(super) async fn serve(mut rx: UnboundedReceiver<Ask>, sockets: Sockets, stats: Arc<MetaStats>) {
    // Whether new containers' first events should wait for each engine: asked now, and again
    // every second while an engine is down (its socket may appear, it may restart).
    let (s, st) = (sockets.clone(), stats.clone());
    tokio::spawn(async move {
        loop {
            for e in ALL {
                let up = &st.reachable[e as usize];
                if !up.load(Ordering::Relaxed) && ping(&s, e).await {
                    mark_up(&st, e);
                }
            }
            tokio::time::sleep(PING_EVERY).await;
        }
    });
    while let Some(ask) = rx.recv().await {
        let Some(engine) = engine_of(ask.runtime) else {
            ask.cell.give_up();
            continue;
        };
        let (sockets, stats) = (sockets.clone(), stats.clone());
        tokio::spawn(async move { answer(ask, engine, &sockets, &stats).await });
    }
}

/// One container's lookup, retried with back-off while its engine does not answer.
async fn answer(ask: Ask, engine: Engine, sockets: &Sockets, stats: &MetaStats) {
    let Ask {
        id,
        runtime,
        namespace,
        cell,
    } = ask;
    let up = &stats.reachable[engine as usize];
    // A container only its pid namespace reveals may be anybody's: containerd is asked only
    // while it runs, and its "no such container" is the usual answer, not a failure.
    let speculative = engine == Engine::Containerd;
    if speculative && !up.load(Ordering::Relaxed) {
        cell.give_up();
        return;
    }
    let mut wait = FIRST_RETRY;
    for attempt in 1..=TRIES {
        let r = tokio::time::timeout(
            LOOKUP_TIMEOUT,
            lookup(sockets, engine, runtime, &id, namespace.as_deref()),
        )
        .await;
        let e = match r.unwrap_or(Err(MetaError::Timeout(LOOKUP_TIMEOUT))) {
            Ok(m) => {
                stats.found.fetch_add(1, Ordering::Relaxed);
                mark_up(stats, engine);
                cell.answer(m);
                // What only the slower call says (docker: privilege, start time).
                if let Ok(Ok(full)) =
                    tokio::time::timeout(LOOKUP_TIMEOUT * 5, complete(sockets, engine, &id)).await
                {
                    cell.complete(full);
                }
                return;
            }
            Err(e) => e,
        };
        match e {
            MetaError::Garbage(_) => {
                stats.garbage.fetch_add(1, Ordering::Relaxed);
            }
            MetaError::NotFound(_) => mark_up(stats, engine),
            _ => up.store(false, Ordering::Relaxed),
        }
        log::debug!("{} lookup of {id}, try {attempt}: {e}", runtime.as_str());
        if speculative {
            cell.give_up();
            return;
        }
        let not_found = matches!(e, MetaError::NotFound(_));
        // Said once per outage: when it answers again, that is said too.
        if !not_found && !stats.said_down[engine as usize].swap(true, Ordering::Relaxed) {
            message!(
                "{} metadata not available ({e}); its containers are named by id until it answers",
                engine.name()
            );
        }
        // A pod's sandbox is known to the CRI only once its pause process runs: its cgroup
        // comes first, so "not found" is worth the next try there.
        if (not_found && engine != Engine::Cri) || attempt == TRIES {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            cell.give_up();
            return;
        }
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

/// Engine `e` answers: new containers' events wait for it again, and its return is said
/// when its failure was.
fn mark_up(stats: &MetaStats, e: Engine) {
    stats.reachable[e as usize].store(true, Ordering::Relaxed);
    if stats.said_down[e as usize].swap(false, Ordering::Relaxed) {
        message!(
            "{} answers again: its containers are named from now on",
            e.name()
        );
    }
}

/// Whether engine `e` answers on any of its sockets.
async fn ping(sockets: &Sockets, e: Engine) -> bool {
    for sock in sockets.of(e, Runtime::Unknown) {
        let up = match e {
            Engine::Docker => docker::ping(sock).await,
            // Without its service, podman's storage still says.
            Engine::Podman => {
                docker::ping(sock).await || podman::containers_file(&sockets.podman_root).is_some()
            }
            Engine::Containerd => containerd::ping(sock).await,
            Engine::Cri => cri::ping(sock).await,
        };
        if up {
            return true;
        }
    }
    false
}

/// The first answer: what the engine can say at once (podman answers Docker's API too). An
/// engine with several sockets is asked on each until one knows the container.
async fn lookup(
    sockets: &Sockets,
    engine: Engine,
    runtime: Runtime,
    id: &str,
    namespace: Option<&str>,
) -> Result<Meta, MetaError> {
    let (mut not_found, mut last) = (false, None);
    for sock in sockets.of(engine, runtime) {
        let r = match engine {
            Engine::Docker => docker::list_one(sock, id).await,
            Engine::Podman => match docker::list_one(sock, id).await {
                Err(MetaError::Io(_) | MetaError::Unreachable(_)) => {
                    podman::from_state(&sockets.podman_root, id)
                }
                r => r,
            },
            Engine::Containerd => containerd::lookup(sock, id, namespace).await,
            Engine::Cri => cri::lookup(sock, id).await,
        };
        match r {
            Ok(m) => return Ok(m),
            Err(MetaError::NotFound(_)) => not_found = true,
            Err(e) => last = Some(e),
        }
    }
    // "Not found" on one socket outranks "nothing listens" on another.
    match last {
        Some(e) if !not_found => Err(e),
        _ => Err(MetaError::NotFound(id.to_string())),
    }
}

/// The full answer, which may wait for the container's start to finish (docker's inspect;
/// the gRPC engines' first answer is already full).
async fn complete(sockets: &Sockets, engine: Engine, id: &str) -> Result<Meta, MetaError> {
    match engine {
        Engine::Docker | Engine::Podman => {
            let sock = sockets.of(engine, Runtime::Unknown)[0];
            docker::inspect(sock, id).await
        }
        Engine::Containerd | Engine::Cri => Err(MetaError::NotFound(id.to_string())),
    }
}
