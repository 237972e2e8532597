//! Collection → compiled rules: exceptions folded in, lists substituted, conditions parsed,
//! macros resolved (cycles refused), fields bound and type-checked against the registry,
//! constants prepared (sets, globs, regexes), event types inferred.

use std::collections::{HashMap, HashSet};

pub(crate) use super::ir::{CCheck, CRhs, Extract, Node};
use super::{
    ast::{Check, Expr, Op, Operand, Rhs, Transformer},
    diag::{locate, Diag, Loc},
    evttype,
    exceptions::exception_text,
    fields::{bind, F},
    items::{Collection, Text},
    lists,
    output::Format,
    parser,
    priority::Priority,
    value,
};

/// A rule ready to evaluate: its condition compiled, its output parsed.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The rule's name, as in the file.
    pub name: String,
    /// Its priority (rules below `--min-priority` are not kept).
    pub priority: Priority,
    /// `enabled: false` rules are kept (for listings) but never evaluated.
    pub enabled: bool,
    pub(crate) tags: Vec<String>,
    pub(crate) node: Node,
    /// The event types the condition can match (Falco's evttype analysis).
    pub evttypes: evttype::Set,
    pub(crate) output: Format,
    /// Where the rule is defined (for `rules lint`).
    pub(crate) loc: Loc,
}

impl Rule {
    /// The condition as the engine runs it, one node a line (`rules explain`).
    pub(crate) fn tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.node.tree(0, &mut out);
        out
    }
}

/// What one compile produced.
pub(crate) struct Compiled {
    pub(crate) rules: Vec<Rule>,
    pub(crate) diags: Vec<Diag>,
    pub(crate) lists: usize,
    pub(crate) macros: usize,
}

struct Ctx<'c> {
    col: &'c Collection,
    macro_ast: HashMap<&'c str, Option<Expr>>,
    macro_text: HashMap<&'c str, &'c Text>,
    macro_done: HashMap<String, Option<Node>>,
    visiting: Vec<String>,
    used_lists: HashSet<String>,
    used_macros: HashSet<String>,
    diags: Vec<Diag>,
}

/// Locate `token` in the parts of `text` (the first part where it appears).
fn token_loc(col: &Collection, text: &Text, token: &str) -> Option<Loc> {
    for (loc, part) in &text.parts {
        if !token.is_empty() && part.contains(token) {
            let src = col.texts.get(loc.file).map(String::as_str).unwrap_or("");
            return Some(locate(src, loc.file, loc.line, loc.col, token));
        }
    }
    text.loc()
}

impl<'c> Ctx<'c> {
    fn expand_lists(&mut self, mut text: String) -> String {
        for l in &self.col.lists {
            if lists::substitute(&mut text, &l.name, &l.items) {
                self.used_lists.insert(l.name.clone());
            }
        }
        text
    }

    /// Compile one macro (once), resolving the macros it uses.
    fn macro_node(&mut self, name: &str) -> Result<Option<Node>, String> {
        if let Some(done) = self.macro_done.get(name) {
            return Ok(done.clone());
        }
        if self.visiting.iter().any(|v| v == name) {
            let mut cycle = self.visiting.clone();
            cycle.push(name.to_string());
            return Err(format!(
                "macros reference each other in a cycle: {}",
                cycle.join(" -> ")
            ));
        }
        let Some(ast) = self.macro_ast.get(name).cloned() else {
            return Err(format!("undefined macro '{name}'"));
        };
        let Some(ast) = ast else {
            // Its own errors were already reported.
            self.macro_done.insert(name.to_string(), None);
            return Ok(None);
        };
        self.visiting.push(name.to_string());
        let text = self.macro_text.get(name).copied();
        let item = format!("macro '{name}'");
        let mut errs = Vec::new();
        let node = self.node(&ast, &mut errs);
        self.visiting.pop();
        let mut cyclic = None;
        for (msg, tok) in errs {
            if msg.starts_with("macros reference each other") {
                cyclic = Some(msg);
                continue;
            }
            let loc = text.and_then(|t| token_loc(self.col, t, &tok));
            self.diags.push(Diag::error(loc, &item, msg));
        }
        if let Some(c) = cyclic {
            if self.visiting.is_empty() {
                let loc = text.and_then(|t| t.loc());
                self.diags.push(Diag::error(loc, &item, c.clone()));
            } else {
                return Err(c);
            }
        }
        let result = node.filter(|_| !self.diags.iter().any(|d| d.item == item));
        self.macro_done.insert(name.to_string(), result.clone());
        Ok(result)
    }

    /// AST → Node. Errors are collected as (message, token) and the whole node fails.
    fn node(&mut self, e: &Expr, errs: &mut Vec<(String, String)>) -> Option<Node> {
        match e {
            Expr::And(v) | Expr::Or(v) => {
                let mut out = Vec::with_capacity(v.len());
                let mut ok = true;
                for c in v {
                    match self.node(c, errs) {
                        Some(n) => out.push(n),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Some(if matches!(e, Expr::And(_)) {
                    Node::And(out)
                } else {
                    Node::Or(out)
                })
            }
            Expr::Not(c) => self.node(c, errs).map(|n| Node::Not(Box::new(n))),
            Expr::Macro { name, .. } => match self.macro_node(name) {
                Ok(n) => {
                    if self.visiting.is_empty() {
                        self.mark_used(name);
                    }
                    n.map(|n| Node::labeled(format!("macro {name}"), n))
                }
                Err(msg) => {
                    errs.push((msg, name.clone()));
                    None
                }
            },
            Expr::Check(c) => match check(c) {
                Ok(cc) => Some(Node::Check(Box::new(cc))),
                Err(mut v) => {
                    errs.append(&mut v);
                    None
                }
            },
        }
    }
}

impl Ctx<'_> {
    /// A rule uses macro `name`: it and every macro it references are used.
    fn mark_used(&mut self, name: &str) {
        if !self.used_macros.insert(name.to_string()) {
            return;
        }
        let mut refs = Vec::new();
        if let Some(Some(ast)) = self.macro_ast.get(name) {
            macro_refs(ast, &mut refs);
        }
        for r in refs {
            self.mark_used(&r);
        }
    }
}

fn macro_refs(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|c| macro_refs(c, out)),
        Expr::Not(c) => macro_refs(c, out),
        Expr::Macro { name, .. } => out.push(name.clone()),
        Expr::Check(_) => {}
    }
}

pub(super) fn extract(o: &Operand) -> Result<Extract, (String, String)> {
    match o {
        Operand::Field(f) => bind(&f.name, f.arg.as_deref())
            .map(|field| Extract {
                field,
                transforms: Vec::new(),
                multi: None,
            })
            .map_err(|e| (e, f.name.clone())),
        Operand::Transform(t, inner) => {
            let mut x = extract(inner)?;
            // The string transformers take strings (and buffers), as libsinsp's do; len()
            // also counts a list's items.
            let ty = x.ty();
            let strings = matches!(ty, value::Type::Str | value::Type::Dyn | value::Type::Bytes);
            if !(strings || *t == Transformer::Len && x.is_list()) {
                return Err((
                    format!(
                        "transformer '{}' does not take a {ty} ({})",
                        t.name(),
                        x.display()
                    ),
                    x.field.display.clone(),
                ));
            }
            x.transforms.push(*t);
            Ok(x)
        }
        Operand::Multi(m) => super::multi::compile(m),
    }
}

/// Bind, type-check and prepare one comparison.
fn check(c: &Check) -> Result<CCheck, Vec<(String, String)>> {
    let text = c.to_string();
    let lhs = extract(&c.lhs).map_err(|e| vec![e])?;
    let tok = lhs.field.display.clone();
    let ty = lhs.ty();
    if lhs.field.f.named_ip().is_some() {
        let plain = lhs.transforms.is_empty() && lhs.multi.is_none();
        let by_value = matches!(
            (c.op, &c.rhs),
            (Op::Eq | Op::Ne, Rhs::Value(_)) | (Op::In, Rhs::List(_))
        );
        if !(plain && by_value) {
            return Err(vec![(
                format!(
                    "{} compares with names only, by =, != or in (a name matches the addresses it resolves to)",
                    lhs.display()
                ),
                tok,
            )]);
        }
    }
    if lhs.is_list() && !matches!(c.op, Op::In | Op::Intersects | Op::Exists) {
        return Err(vec![(
            format!("'{}' operator not supported list filters", c.op.as_str()),
            tok,
        )]);
    }
    if !value::op_allowed(ty, c.op) {
        return Err(vec![(
            format!(
                "operator '{}' cannot be used with {} ({ty})",
                c.op.as_str(),
                lhs.display()
            ),
            tok,
        )]);
    }
    let rhs = match &c.rhs {
        Rhs::None => CRhs::None,
        Rhs::Operand(o) => {
            let r = extract(o).map_err(|e| vec![e])?;
            if c.op.takes_list() {
                return Err(vec![(
                    format!("'{}' needs a list, not val()", c.op.as_str()),
                    tok,
                )]);
            }
            CRhs::Field(r)
        }
        Rhs::Value(v) => {
            if c.op.takes_list() {
                return Err(vec![(
                    format!("'{}' needs a list: ( ... )", c.op.as_str()),
                    v.text.clone(),
                )]);
            }
            CRhs::Const(
                value::prepare(ty, c.op, &v.text)
                    .map_err(|e| vec![(format!("{}: {e}", lhs.display()), v.text.clone())])?,
            )
        }
        Rhs::Mod(m, items) => {
            // libsinsp: a modifier on an address or a network only with = and !=.
            if ty == value::Type::Ip && !matches!(c.op, Op::Eq | Op::Ne) {
                return Err(vec![(
                    format!(
                        "'{}' with modifier not supported for ip address and network filters",
                        c.op.as_str()
                    ),
                    tok,
                )]);
            }
            let consts = items
                .iter()
                .map(|l| {
                    value::prepare(ty, c.op, &l.text)
                        .map_err(|e| vec![(format!("{}: {e}", lhs.display()), l.text.clone())])
                })
                .collect::<Result<Vec<_>, _>>()?;
            CRhs::Mod(*m, consts)
        }
        Rhs::List(items) => {
            let texts: Vec<String> = items.iter().map(|l| l.text.clone()).collect();
            CRhs::Const(value::prepare_list(ty, c.op, &texts).map_err(|e| {
                vec![(
                    format!("{}: {e}", lhs.display()),
                    texts.first().cloned().unwrap_or_default(),
                )]
            })?)
        }
    };
    // An address name compares the address field with what the names resolve to (the
    // check above let only =, != and in with names through).
    let names: Option<Vec<String>> = match &rhs {
        CRhs::Const(value::Const::Str(n)) => Some(vec![n.clone()]),
        CRhs::Const(value::Const::StrSet(set)) => Some(set.iter().cloned().collect()),
        _ => None,
    };
    let (lhs, rhs) = match (lhs.field.f.named_ip(), names) {
        (Some(ip), Some(mut names)) => {
            names.sort();
            let mut lhs = lhs;
            lhs.field.f = ip;
            lhs.field.ty = value::Type::Ip;
            (lhs, CRhs::Names(names))
        }
        _ => (lhs, rhs),
    };
    Ok(CCheck {
        lhs,
        op: c.op,
        rhs,
        text,
    })
}

/// Fields a node uses whose data the agent lacks.
fn unavailable(n: &Node, out: &mut std::collections::BTreeSet<String>) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().for_each(|c| unavailable(c, out)),
        Node::Not(c) => unavailable(c, out),
        Node::Labeled(l) => unavailable(&l.node, out),
        Node::Check(c) => {
            if c.lhs.field.f == F::Unavailable {
                out.insert(c.lhs.field.display.clone());
            }
        }
    }
}

pub(crate) fn compile(col: &Collection) -> Compiled {
    let mut cx = Ctx {
        col,
        macro_ast: HashMap::new(),
        macro_text: HashMap::new(),
        macro_done: HashMap::new(),
        visiting: Vec::new(),
        used_lists: HashSet::new(),
        used_macros: HashSet::new(),
        diags: Vec::new(),
    };

    // Parse every macro (after list substitution).
    for m in &col.macros {
        let text = cx.expand_lists(m.condition.text());
        let item = format!("macro '{}'", m.name);
        let ast = match parser::parse(&text) {
            Ok(a) => Some(a),
            Err(e) => {
                let loc = token_loc(col, &m.condition, &e.token);
                cx.diags.push(Diag::error(
                    loc,
                    &item,
                    format!("invalid condition: {}", e.msg),
                ));
                None
            }
        };
        cx.macro_ast.insert(m.name.as_str(), ast);
        cx.macro_text.insert(m.name.as_str(), &m.condition);
    }
    // Check every macro, used or not (an unused macro with a bad field is still an error).
    for m in &col.macros {
        if let Err(msg) = cx.macro_node(&m.name) {
            let item = format!("macro '{}'", m.name);
            if !cx.diags.iter().any(|d| d.item == item) {
                cx.diags.push(Diag::error(m.condition.loc(), item, msg));
            }
        }
    }

    let mut rules = Vec::new();
    for r in &col.rules {
        let item = format!("rule '{}'", r.name);
        if r.source != "syscall" {
            cx.diags.push(Diag::warning(
                Some(r.loc),
                &item,
                format!("source '{}' is not supported; rule skipped", r.source),
            ));
            continue;
        }
        // Exception fields and operators are checked before they become condition text.
        let mut bad = false;
        for ex in &r.exceptions {
            let errs = ex.check(&item);
            bad |= !errs.is_empty();
            cx.diags.extend(errs);
        }
        // Broken exceptions are already reported (so no engine is built): still check the
        // condition without them, to report its own errors in the same run.
        let exceptions = if bad { &[][..] } else { &r.exceptions[..] };
        // The condition and each exception are parsed apart (the tree is Falco's
        // `(cond) and not (exc1) and not (exc2)`), so that `--explain` names each exception.
        let mut texts = vec![(None, r.condition.text().to_string())];
        for ex in exceptions {
            if let Some(t) = exception_text(ex) {
                texts.push((Some(format!("exception '{}'", ex.name)), t));
            }
        }
        let mut asts = Vec::with_capacity(texts.len());
        let mut unparsed = false;
        for (label, text) in texts {
            match parser::parse(&cx.expand_lists(text)) {
                Ok(a) => asts.push((label, a)),
                Err(e) => {
                    unparsed = true;
                    let loc = token_loc(col, &r.condition, &e.token);
                    cx.diags.push(Diag::error(
                        loc,
                        &item,
                        format!("invalid condition: {}", e.msg),
                    ));
                }
            }
        }
        if unparsed {
            continue;
        }
        let mut errs = Vec::new();
        let mut terms = Vec::with_capacity(asts.len());
        for (label, ast) in &asts {
            let n = cx.node(ast, &mut errs);
            terms.push(match label {
                None => n,
                Some(l) => n.map(|n| Node::Not(Box::new(Node::labeled(l.clone(), n)))),
            });
        }
        // The condition's own `and` takes the exceptions' terms (same order, one level).
        let node = terms
            .into_iter()
            .collect::<Option<Vec<Node>>>()
            .map(|mut terms| {
                let excepted = terms.split_off(1);
                match terms.pop() {
                    Some(Node::And(mut cond)) => {
                        cond.extend(excepted);
                        Node::And(cond)
                    }
                    Some(cond) if excepted.is_empty() => cond,
                    cond => Node::And(cond.into_iter().chain(excepted).collect()),
                }
            });
        let unknown_filter = errs.iter().any(|(m, _)| m.starts_with("unknown field"));
        if r.skip_if_unknown_filter && unknown_filter {
            cx.diags.push(Diag::warning(
                Some(r.loc),
                &item,
                "uses an unknown field; skipped (skip-if-unknown-filter)",
            ));
            continue;
        }
        for (msg, tok) in &errs {
            let loc = token_loc(col, &r.condition, tok);
            cx.diags.push(Diag::error(loc, &item, msg.clone()));
        }
        let output = match Format::parse(&r.output) {
            Ok(f) => f,
            Err((msg, _)) if r.skip_if_unknown_filter && msg.starts_with("unknown field") => {
                cx.diags.push(Diag::warning(
                    Some(r.loc),
                    &item,
                    format!("output: {msg}; skipped (skip-if-unknown-filter)"),
                ));
                continue;
            }
            Err((msg, tok)) => {
                let loc = r.output_loc.map(|l| {
                    locate(
                        col.texts.get(l.file).map(String::as_str).unwrap_or(""),
                        l.file,
                        l.line,
                        l.col,
                        &tok,
                    )
                });
                cx.diags
                    .push(Diag::error(loc, &item, format!("invalid output: {msg}")));
                continue;
            }
        };
        let Some(node) = node else { continue };
        let evttypes = evttype::infer(&node, false);
        if evttypes.is_all() && r.warn_evttypes {
            cx.diags.push(Diag::warning(
                Some(r.loc),
                &item,
                "the condition does not restrict evt.type: the rule runs on every event (slow); add evt.type = ... or set warn_evttypes: false",
            ));
        }
        let mut missing = std::collections::BTreeSet::new();
        unavailable(&node, &mut missing);
        if !missing.is_empty() {
            let names: Vec<String> = missing.into_iter().collect();
            cx.diags.push(Diag::warning(
                Some(r.loc),
                &item,
                format!("{} have no data source here and evaluate to null, as in Falco without that metadata", names.join(", ")),
            ));
        }
        rules.push(Rule {
            name: r.name.clone(),
            priority: r.priority,
            enabled: r.enabled,
            tags: r.tags.iter().cloned().collect(),
            node,
            evttypes,
            output,
            loc: r.loc,
        });
    }

    for l in &col.lists {
        if !cx.used_lists.contains(&l.name) && !col.list_refs.contains(&l.name) {
            cx.diags.push(Diag::warning(
                Some(l.loc),
                format!("list '{}'", l.name),
                "defined but not used",
            ));
        }
    }
    for m in &col.macros {
        if !cx.used_macros.contains(&m.name) {
            cx.diags.push(Diag::warning(
                Some(m.loc),
                format!("macro '{}'", m.name),
                "defined but not used",
            ));
        }
    }
    let mut diags = col.diags.clone();
    diags.append(&mut cx.diags);
    Compiled {
        rules,
        diags,
        lists: col.lists.len(),
        macros: col.macros.len(),
    }
}
