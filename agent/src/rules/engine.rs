//! The loaded rule set: rules indexed by event type, evaluated in file order, stopping at the
//! first match (`rule_matching: first`, Falco's default) or not (`all`).

use std::collections::BTreeSet;

use super::{
    ast::Op,
    compile::{compile, Rule},
    diag::{Diag, Level},
    evttype,
    extract::{transform, Ctx},
    ir::Extract,
    ir::{CCheck, CRhs, Node},
    items::Collection,
    output::{self, value_of, Alert, Format, Listed},
    priority::Priority,
    value::{compare, compare_values, Val},
};
use crate::{
    event::Event,
    state::{dns, State},
    syscalls::table,
};

/// How many rules an event may fire (Falco's `rule_matching`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Matching {
    /// One alert per event: the first matching rule (Falco's default).
    #[default]
    First,
    /// Every matching rule alerts.
    All,
}

/// Compiled rules, indexed by event type, and what evaluates them on events.
#[derive(Clone)]
pub struct Engine {
    /// Every rule kept, in file order.
    pub rules: Vec<Rule>,
    /// Enabled rules per event type id, in file order.
    pub(crate) index: Vec<Vec<u32>>,
    /// First match or all matches.
    pub matching: Matching,
    /// Lists defined by the files (for the load summary).
    pub lists: usize,
    /// Macros defined by the files (for the load summary).
    pub macros: usize,
    pub(crate) hostname: String,
    /// The configuration's `static_fields`: `static.NAME` in conditions and outputs.
    pub(crate) statics: Vec<(String, String)>,
}

/// The outcome of loading rules files.
pub struct Loaded {
    /// The engine, unless an error stopped it.
    pub engine: Option<Engine>,
    /// Errors and warnings, in file order.
    pub diags: Vec<Diag>,
    /// The files' names, as diagnostics index them.
    pub files: Vec<String>,
}

impl Loaded {
    /// The diagnostics that stop loading.
    pub fn errors(&self) -> impl Iterator<Item = &Diag> {
        self.diags.iter().filter(|d| d.level == Level::Error)
    }

    /// The diagnostics that do not.
    pub fn warnings(&self) -> impl Iterator<Item = &Diag> {
        self.diags.iter().filter(|d| d.level == Level::Warning)
    }
}

/// Enabled rules per event type id, in file order.
pub(crate) fn build_index(rules: &[Rule]) -> Vec<Vec<u32>> {
    let mut index = vec![Vec::new(); evttype::count()];
    for (i, r) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
        for t in r.evttypes.ids() {
            index[t].push(i as u32);
        }
    }
    index
}

/// Name of this host as Falco reports it (`$FALCO_HOSTNAME` first).
pub(crate) fn hostname() -> String {
    if let Ok(h) = std::env::var("FALCO_HOSTNAME") {
        return h;
    }
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Engine {
    /// Load rules files in order (later ones amend earlier ones). Parsing and compiling
    /// recurse on nested conditions, so they run on a thread with a large stack.
    pub fn load(sources: &[(String, String)], min_priority: Priority) -> Loaded {
        let sources = sources.to_vec();
        let handle = std::thread::Builder::new()
            .name("rules-load".into())
            .stack_size(256 << 20)
            .spawn(move || Self::load_here(&sources, min_priority));
        match handle.map(|h| h.join()) {
            Ok(Ok(l)) => l,
            _ => Loaded {
                engine: None,
                diags: vec![Diag::error(
                    None,
                    "",
                    "the rules loader failed unexpectedly",
                )],
                files: Vec::new(),
            },
        }
    }

    fn load_here(sources: &[(String, String)], min_priority: Priority) -> Loaded {
        let mut col = Collection::new();
        for (name, text) in sources {
            col.add_file(name, text);
        }
        let mut c = compile(&col);
        // In file order, then by position: the order an editor walks them.
        c.diags.sort_by_key(Diag::sort_key);
        let files = col.files.clone();
        let failed = c.diags.iter().any(|d| d.level == Level::Error);
        let engine = (!failed).then(|| {
            let rules: Vec<Rule> = c
                .rules
                .into_iter()
                .filter(|r| r.priority <= min_priority)
                .collect();
            let index = build_index(&rules);
            Engine {
                rules,
                index,
                matching: Matching::First,
                lists: c.lists,
                macros: c.macros,
                hostname: hostname(),
                statics: Vec::new(),
            }
        });
        Loaded {
            engine,
            diags: c.diags,
            files,
        }
    }

    /// The syscalls the enabled rules can match (for the kernel's interesting set), and
    /// whether some rule needs every event type.
    pub fn syscalls(&self) -> (BTreeSet<&'static str>, bool) {
        let mut out = BTreeSet::new();
        let mut all = false;
        for r in self.rules.iter().filter(|r| r.enabled) {
            if r.evttypes.is_all() {
                all = true;
                continue;
            }
            out.extend(
                r.evttypes
                    .names()
                    .into_iter()
                    .filter(|n| table::is_known(n)),
            );
        }
        (out, all)
    }

    fn event_type(ev: &Event) -> Option<usize> {
        match ev {
            // Lifecycle records feed the state; their syscalls carry the rules.
            Event::Fork(_) | Event::Exec(_) => None,
            _ => evttype::id(ev.kind()),
        }
    }

    /// Evaluate an event; alerts are appended to `out`.
    pub fn eval(&self, ev: &Event, st: &State, num: u64, out: &mut Vec<Alert>) {
        let Some(t) = Self::event_type(ev) else {
            return;
        };
        let Some(rules) = self.index.get(t) else {
            return;
        };
        if rules.is_empty() {
            return;
        }
        let mut cx = Ctx::new(ev, st, num, &self.hostname);
        cx.statics = &self.statics;
        for &i in rules {
            let r = &self.rules[i as usize];
            if eval_node(&r.node, &cx) {
                out.push(alert(r, &cx));
                if self.matching == Matching::First {
                    return;
                }
            }
        }
    }

    /// Explain how rule `name` decided on this event: every check with its value, the
    /// deciding path marked. `None` when the rule does not apply to this event type.
    /// Decorate every rule's output as Falco does by default ([`output::DECORATION_TEXT`],
    /// [`output::DECORATION_FIELDS`]): syscall alerts name their container.
    pub(crate) fn decorate(&mut self) {
        self.decorate_matching(|_| true);
    }

    /// [`Engine::decorate`] for the rules `which` picks.
    pub(crate) fn decorate_matching(&mut self, which: impl Fn(&Rule) -> bool) {
        // Ours, and a unit test parses it.
        let Ok(text) = Format::parse(output::DECORATION_TEXT) else {
            return;
        };
        let extra: Vec<(String, Extract)> = output::DECORATION_FIELDS
            .iter()
            .filter_map(|name| {
                let field = super::fields::bind(name, None).ok()?;
                Some((
                    name.to_string(),
                    Extract {
                        field,
                        transforms: Vec::new(),
                        multi: None,
                    },
                ))
            })
            .collect();
        for r in self.rules.iter_mut().filter(|r| which(r)) {
            r.output.decorate(&text, &extra);
        }
    }

    /// Whether an enabled rule reads field `f`, in its condition or its output (what the
    /// kernel must copy for it, e.g. I/O buffers for `evt.buffer`).
    pub(crate) fn reads(&self, f: super::fields::F) -> bool {
        self.rules.iter().filter(|r| r.enabled).any(|r| {
            let mut found = false;
            r.node.extracts(&mut |e| found |= e.field.f == f);
            found || r.output.extracts().any(|e| e.field.f == f)
        })
    }

    pub(crate) fn explain(
        &self,
        name: &str,
        ev: &Event,
        st: &State,
        num: u64,
    ) -> Option<(bool, Vec<String>)> {
        let r = self.rules.iter().find(|r| r.name == name)?;
        let t = Self::event_type(ev)?;
        if !r.evttypes.contains(t) {
            return None;
        }
        let mut cx = Ctx::new(ev, st, num, &self.hostname);
        cx.statics = &self.statics;
        let mut lines = Vec::new();
        let v = explain_node(&r.node, &cx, 1, true, &mut lines);
        Some((v, lines))
    }
}

fn alert(r: &Rule, cx: &Ctx<'_>) -> Alert {
    let (message, output_fields) = cx.rendering(|cx| r.output.render(cx));
    let mut tags = r.tags.clone();
    tags.sort();
    Alert {
        time: cx.ev.task().time,
        rule: r.name.clone(),
        priority: r.priority,
        message,
        output_fields,
        tags,
        hostname: cx.hostname.to_string(),
    }
}

pub(crate) fn eval_node(n: &Node, cx: &Ctx<'_>) -> bool {
    match n {
        Node::And(v) => v.iter().all(|c| eval_node(c, cx)),
        Node::Or(v) => v.iter().any(|c| eval_node(c, cx)),
        Node::Not(c) => !eval_node(c, cx),
        Node::Labeled(l) => eval_node(&l.node, cx),
        Node::Check(c) => eval_check(c, cx),
    }
}

fn eval_check(c: &CCheck, cx: &Ctx<'_>) -> bool {
    if let Some(m) = c.lhs.multi.as_ref().filter(|m| m.is_list()) {
        // A list (getopt's options): `in` wants all of them in the set, `intersects` one.
        let Some(vals) = m.eval(cx) else {
            return false;
        };
        let in_set = |v: &String| match &c.rhs {
            CRhs::Const(k) => compare(&Val::Str(v.as_str().into()), Op::In, k),
            _ => false,
        };
        return match c.op {
            Op::Exists => true,
            Op::In => !vals.is_empty() && vals.iter().all(in_set),
            Op::Intersects => vals.iter().any(in_set),
            _ => false,
        };
    }
    if c.lhs.multi.is_none() && c.lhs.field.is_list() {
        // `fd.types in (...)`: every item in the set; `intersects`: one.
        return match output::list_of(cx, &c.lhs) {
            Listed::Items(v) => match c.op {
                Op::Exists => true,
                Op::In => !v.is_empty() && v.iter().all(|x| cmp(c, x, cx)),
                Op::Intersects => v.iter().any(|x| cmp(c, x, cx)),
                _ => false,
            },
            Listed::One(v) => match (c.op, v) {
                (Op::Exists, v) => v.is_some(),
                (_, None) => false,
                (_, Some(v)) => cmp(c, &v, cx),
            },
        };
    }
    if c.lhs.field.any {
        // `proc.aname = x`: any ancestor.
        let mut vals = Vec::new();
        cx.values(&c.lhs.field, &mut vals);
        if c.op == Op::Exists {
            return !vals.is_empty();
        }
        return vals.into_iter().any(|v| {
            let v = c.lhs.transforms.iter().try_fold(v, |v, t| transform(*t, v));
            v.is_some_and(|v| cmp(c, &v, cx))
        });
    }
    let v = value_of(cx, &c.lhs);
    match (c.op, v) {
        (Op::Exists, v) => v.is_some(),
        (_, None) => false,
        (_, Some(v)) => cmp(c, &v, cx),
    }
}

fn cmp(c: &CCheck, v: &Val<'_>, cx: &Ctx<'_>) -> bool {
    match &c.rhs {
        CRhs::Const(k) => compare(v, c.op, k),
        CRhs::Mod(m, items) => {
            let hits = items.iter().filter(|k| compare(v, c.op, k)).count();
            m.holds(hits, items.len())
        }
        CRhs::Field(e) => value_of(cx, e).is_some_and(|w| compare_values(v, c.op, &w)),
        // `fd.sip.name = n` (libsinsp's DNS manager): the address is one a name resolves to.
        CRhs::Names(names) => match v {
            Val::Ip(ip) => names.iter().any(|n| dns::matches(n, *ip)) != (c.op == Op::Ne),
            _ => false,
        },
        CRhs::None => false,
    }
}

/// Evaluate with a trace. `decisive` marks the path that decided the outcome.
fn explain_node(
    n: &Node,
    cx: &Ctx<'_>,
    depth: usize,
    decisive: bool,
    out: &mut Vec<String>,
) -> bool {
    let pad = "  ".repeat(depth);
    let mark = if decisive { "=>" } else { "  " };
    match n {
        Node::And(v) | Node::Or(v) => {
            let is_and = matches!(n, Node::And(_));
            let result = eval_node(n, cx);
            out.push(format!(
                "{mark}{pad}{} -> {result}",
                if is_and { "and" } else { "or" }
            ));
            // For `and` the first false child decides (all true: the last); for `or` the
            // first true child (all false: the last).
            let decider = v
                .iter()
                .position(|c| eval_node(c, cx) != is_and)
                .unwrap_or(v.len().saturating_sub(1));
            for (i, c) in v.iter().enumerate() {
                explain_node(c, cx, depth + 1, decisive && i == decider, out);
            }
            result
        }
        Node::Not(c) => {
            let r = !eval_node(c, cx);
            out.push(format!("{mark}{pad}not -> {r}"));
            explain_node(c, cx, depth + 1, decisive, out);
            r
        }
        Node::Labeled(l) => {
            let r = eval_node(&l.node, cx);
            out.push(format!("{mark}{pad}{} -> {r}", l.label));
            explain_node(&l.node, cx, depth + 1, decisive, out);
            r
        }
        Node::Check(c) => {
            let r = eval_check(c, cx);
            let v = value_of(cx, &c.lhs)
                .map(|v| v.render())
                .unwrap_or_else(|| "<NA>".into());
            out.push(format!(
                "{mark}{pad}{} {} -> {r}    ({} = {v})",
                if r { "✓" } else { "✗" },
                c.text,
                c.lhs.display()
            ));
            r
        }
    }
}
