//! Container and Kubernetes fields: the cgroup's container and what its engine says of it.

use std::borrow::Cow;

use super::{nonempty, owned, s, Ctx};
use crate::{
    rules::{
        fields::{Arg, Bound, F},
        value::Val,
    },
    state::{
        containers::short_id,
        meta::{labels_text, Meta, PodField},
        HOST,
    },
};

impl<'a> Ctx<'a> {
    /// A `container.*` or `k8s.*` field's value.
    pub(super) fn container_value(&self, b: &Bound) -> Option<Val<'_>> {
        let t = self.ev.task();
        match b.f {
            F::ContainerId | F::ContainerFullId | F::ContainerName => {
                if &*t.container_id == HOST {
                    return s(HOST);
                }
                if let Some(m) = self
                    .meta()
                    .filter(|m| b.f == F::ContainerName && !m.name.is_empty())
                {
                    return s(&m.name);
                }
                if b.f == F::ContainerId {
                    s(short_id(&t.container_id))
                } else {
                    s(&t.container_id)
                }
            }
            F::ContainerType => {
                if &*t.container_id == HOST {
                    return s(HOST);
                }
                let cg = self.st.containers.peek(t.cgroup_id)?;
                // The engine knows (a CRI runtime says which it is); else the cgroup path.
                match cg.meta().map(|m| m.engine).filter(|e| !e.is_empty()) {
                    Some(e) => s(e),
                    None => s(cg.runtime.as_str()),
                }
            }
            F::ContainerCgroup => owned(self.st.containers.peek_path(t.cgroup_id)?),
            F::ContainerImage => nonempty(&self.meta()?.image),
            F::ContainerImageId => nonempty(&self.meta()?.image_id),
            F::ContainerImageRepo => nonempty(&self.meta()?.image_repository),
            F::ContainerImageTag => nonempty(&self.meta()?.image_tag),
            F::ContainerImageDigest => nonempty(&self.meta()?.image_digest),
            F::ContainerPrivileged => self.meta()?.privileged.map(Val::Bool),
            F::ContainerMounts => owned(self.meta()?.mounts_text()),
            F::ContainerStartTs => {
                let ts = self.meta()?.start_ts;
                (ts != 0).then_some(Val::Int(ts as i64))
            }
            F::ContainerMount
            | F::ContainerMountSource
            | F::ContainerMountDest
            | F::ContainerMountMode
            | F::ContainerMountRdwr
            | F::ContainerMountProp => {
                let Arg::Key(k) = &b.arg else { return None };
                let meta = self.meta()?;
                // Falco says "N/A" for a mount that is not there (rules compare with it).
                let Some(m) = meta.mount(k, b.f == F::ContainerMountSource) else {
                    return s("N/A");
                };
                match b.f {
                    F::ContainerMount => owned(m.text()),
                    F::ContainerMountSource => s(&m.source),
                    F::ContainerMountDest => s(&m.dest),
                    F::ContainerMountMode => s(&m.mode),
                    F::ContainerMountRdwr => owned(m.rw.to_string()),
                    _ => s(&m.propagation),
                }
            }
            F::ContainerDuration => {
                let start = self.meta()?.start_ts;
                (start != 0).then(|| Val::Int(t.time.0.saturating_sub(start) as i64))
            }
            F::ContainerIp => nonempty(&self.meta()?.ip),
            F::ContainerHealthcheck => match &self.meta()?.healthcheck {
                Some(h) => s(h),
                None => s("N/A"),
            },
            F::K8sNsName => nonempty(self.meta()?.pod_label(PodField::Namespace)?),
            F::K8sPodName => nonempty(self.meta()?.pod_label(PodField::Name)?),
            F::K8sPodUid | F::K8sPodId => nonempty(self.meta()?.pod_label(PodField::Uid)?),
            F::K8sPodLabel => {
                let (Arg::Key(k), m) = (&b.arg, self.meta()?) else {
                    return None;
                };
                nonempty(m.pod_labels.get(k).or_else(|| m.labels.get(k))?)
            }
            F::K8sPodLabels => {
                let m = self.meta()?;
                let labels = if m.pod_labels.is_empty() {
                    &m.labels
                } else {
                    &m.pod_labels
                };
                let text = labels_text(labels);
                (!text.is_empty()).then_some(Val::Str(Cow::Owned(text)))
            }
            F::K8sPodIp => {
                let m = self.meta()?;
                m.pod_label(PodField::Uid)?;
                nonempty(&m.ip)
            }
            F::ContainerLabels => owned(labels_text(&self.meta()?.labels)),
            F::K8sPodSandboxId => {
                let id = self.meta()?.pod_label(PodField::Sandbox)?;
                nonempty(short_id(id))
            }
            F::ContainerLabel => match &b.arg {
                Arg::Key(k) => nonempty(self.meta()?.labels.get(k)?),
                _ => None,
            },
            _ => None,
        }
    }

    /// The engine's metadata of the event's container, once it has answered.
    fn meta(&self) -> Option<&'a Meta> {
        self.st.containers.peek(self.ev.task().cgroup_id)?.meta()
    }
}
