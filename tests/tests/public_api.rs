//! The public API of `daneel-core`, as a checked-in list (issue 15): every public item with
//! its signature, each trait it implements (auto traits included), and `#[non_exhaustive]`,
//! one line each, so that every change to the surface shows in review as a diff of
//! `tests/golden/daneel-core-public-api.txt`.
//!
//! The list is made from rustdoc's JSON output, which needs a nightly flag: the test runs
//! `RUSTC_BOOTSTRAP=1 cargo rustdoc -p daneel-core -- -Z unstable-options --output-format json`
//! on stable, into its own target directory (`<target>/public-api`), and renders the items
//! itself. After an intended change to the API, update the list and commit it with the change:
//!
//! ```text
//! DANEEL_UPDATE_API=1 cargo test -p daneel --test public_api
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const LIST: &str = "golden/daneel-core-public-api.txt";
const HEADER: &str = "\
# The public API of daneel-core: one line per item, made by tests/tests/public_api.rs from
# rustdoc's JSON output. Do not edit: after an intended API change, run
#   DANEEL_UPDATE_API=1 cargo test -p daneel --test public_api
# and commit this file with the change.
";

/// The workspace's target directory: the test binary is `<target>/<profile>/deps/<test>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("target directory")
        .to_path_buf()
}

/// rustdoc's JSON description of daneel-core.
fn rustdoc_json() -> Value {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let target = target_dir().join("public-api");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["rustdoc", "--quiet", "-p", "daneel-core", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTDOCFLAGS")
        .output()
        .expect("run cargo rustdoc");
    assert!(
        out.status.success(),
        "cargo rustdoc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = std::fs::read(target.join("doc/daneel_core.json")).expect("rustdoc JSON");
    serde_json::from_slice(&json).expect("rustdoc JSON parses")
}

/// Renders the items of one crate's rustdoc JSON.
struct Api<'a> {
    index: &'a Value,
    paths: &'a Value,
    /// The paths of the public modules, from the crate root down.
    public_modules: BTreeSet<String>,
    lines: BTreeSet<String>,
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("?")
}

/// The one key of an externally tagged enum value, and its content.
fn tagged(v: &Value) -> (&str, &Value) {
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one key");
            (k.as_str(), v)
        }
        Value::String(s) => (s.as_str(), &Value::Null),
        _ => ("?", v),
    }
}

fn join<T>(items: impl IntoIterator<Item = T>, sep: &str, f: impl FnMut(T) -> String) -> String {
    items.into_iter().map(f).collect::<Vec<_>>().join(sep)
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

impl<'a> Api<'a> {
    fn item(&self, id: &Value) -> &'a Value {
        &self.index[id.to_string().as_str()]
    }

    /// The canonical path of a named item (`alloc::vec::Vec`), else the path as written.
    fn path(&self, p: &Value) -> String {
        let name = match self.paths.get(p["id"].to_string().as_str()) {
            Some(known) => join(array(&known["path"]), "::", |s| str_of(s).to_string()),
            None => str_of(&p["path"]).to_string(),
        };
        format!("{name}{}", self.args(&p["args"]))
    }

    fn args(&self, args: &Value) -> String {
        let (kind, a) = tagged(args);
        match kind {
            "angle_bracketed" => {
                let mut parts: Vec<String> = array(&a["args"])
                    .iter()
                    .map(|arg| match tagged(arg) {
                        ("lifetime", l) => str_of(l).to_string(),
                        ("type", t) => self.ty(t),
                        ("const", c) => str_of(&c["expr"]).to_string(),
                        _ => "_".to_string(),
                    })
                    .collect();
                for c in array(&a["constraints"]) {
                    let lhs = format!("{}{}", str_of(&c["name"]), self.args(&c["args"]));
                    parts.push(match tagged(&c["binding"]) {
                        ("equality", e) => match tagged(e) {
                            ("type", t) => format!("{lhs} = {}", self.ty(t)),
                            (_, other) => format!("{lhs} = {other}"),
                        },
                        (_, bounds) => format!("{lhs}: {}", self.bounds(bounds)),
                    });
                }
                if parts.is_empty() {
                    String::new()
                } else {
                    format!("<{}>", parts.join(", "))
                }
            }
            "parenthesized" => format!(
                "({}){}",
                join(array(&a["inputs"]), ", ", |t| self.ty(t)),
                self.ret(&a["output"])
            ),
            _ => String::new(),
        }
    }

    fn ret(&self, output: &Value) -> String {
        if output.is_null() {
            String::new()
        } else {
            format!(" -> {}", self.ty(output))
        }
    }

    fn bounds(&self, bounds: &Value) -> String {
        join(array(bounds), " + ", |b| match tagged(b) {
            ("trait_bound", t) => {
                let maybe = if str_of(&t["modifier"]) == "maybe" {
                    "?"
                } else {
                    ""
                };
                format!(
                    "{}{maybe}{}",
                    self.for_lifetimes(&t["generic_params"]),
                    self.path(&t["trait"])
                )
            }
            ("outlives", l) => str_of(l).to_string(),
            (_, other) => other.to_string(),
        })
    }

    fn for_lifetimes(&self, params: &Value) -> String {
        if array(params).is_empty() {
            String::new()
        } else {
            format!("for{} ", self.generics(params))
        }
    }

    fn ty(&self, t: &Value) -> String {
        let (kind, v) = tagged(t);
        match kind {
            "resolved_path" => self.path(v),
            "generic" | "primitive" => str_of(v).to_string(),
            "infer" => "_".to_string(),
            "tuple" => format!("({})", join(array(v), ", ", |t| self.ty(t))),
            "slice" => format!("[{}]", self.ty(v)),
            "array" => format!("[{}; {}]", self.ty(&v["type"]), str_of(&v["len"])),
            "borrowed_ref" => {
                let lifetime = v["lifetime"]
                    .as_str()
                    .map(|l| format!("{l} "))
                    .unwrap_or_default();
                let m = if v["is_mutable"] == true { "mut " } else { "" };
                format!("&{lifetime}{m}{}", self.ty(&v["type"]))
            }
            "raw_pointer" => {
                let m = if v["is_mutable"] == true {
                    "mut"
                } else {
                    "const"
                };
                format!("*{m} {}", self.ty(&v["type"]))
            }
            "impl_trait" => format!("impl {}", self.bounds(v)),
            "dyn_trait" => {
                let mut s = format!(
                    "dyn {}",
                    join(array(&v["traits"]), " + ", |p| format!(
                        "{}{}",
                        self.for_lifetimes(&p["generic_params"]),
                        self.path(&p["trait"])
                    ))
                );
                if let Some(l) = v["lifetime"].as_str() {
                    s.push_str(&format!(" + {l}"));
                }
                s
            }
            "qualified_path" => {
                let name = format!("{}{}", str_of(&v["name"]), self.args(&v["args"]));
                match v["trait"].is_null() {
                    true => format!("{}::{name}", self.ty(&v["self_type"])),
                    false => format!(
                        "<{} as {}>::{name}",
                        self.ty(&v["self_type"]),
                        self.path(&v["trait"])
                    ),
                }
            }
            "function_pointer" => format!(
                "{}fn({}){}",
                self.for_lifetimes(&v["generic_params"]),
                join(array(&v["sig"]["inputs"]), ", ", |i| self.ty(&i[1])),
                self.ret(&v["sig"]["output"])
            ),
            _ => t.to_string(),
        }
    }

    /// `<'a, T: Bound, const N: usize>` (without the `impl Trait` arguments' synthetic names).
    fn generics(&self, params: &Value) -> String {
        let shown: Vec<String> = array(params)
            .iter()
            .filter_map(|p| {
                let name = str_of(&p["name"]);
                match tagged(&p["kind"]) {
                    ("type", t) if t["is_synthetic"] == true => None,
                    ("type", t) if array(&t["bounds"]).is_empty() => Some(name.to_string()),
                    ("type", t) => Some(format!("{name}: {}", self.bounds(&t["bounds"]))),
                    ("lifetime", l) if array(&l["outlives"]).is_empty() => Some(name.to_string()),
                    ("lifetime", l) => Some(format!(
                        "{name}: {}",
                        join(array(&l["outlives"]), " + ", |o| str_of(o).to_string())
                    )),
                    ("const", c) => Some(format!("const {name}: {}", self.ty(&c["type"]))),
                    _ => Some(name.to_string()),
                }
            })
            .collect();
        if shown.is_empty() {
            String::new()
        } else {
            format!("<{}>", shown.join(", "))
        }
    }

    fn where_clause(&self, generics: &Value) -> String {
        let preds = array(&generics["where_predicates"]);
        if preds.is_empty() {
            return String::new();
        }
        let shown = join(preds, ", ", |p| match tagged(p) {
            ("bound_predicate", b) => format!(
                "{}{}: {}",
                self.for_lifetimes(&b["generic_params"]),
                self.ty(&b["type"]),
                self.bounds(&b["bounds"])
            ),
            ("lifetime_predicate", l) => format!(
                "{}: {}",
                str_of(&l["lifetime"]),
                join(array(&l["outlives"]), " + ", |o| str_of(o).to_string())
            ),
            (_, other) => other.to_string(),
        });
        format!(" where {shown}")
    }

    fn function(&self, prefix: &str, path: &str, f: &Value) -> String {
        let header = &f["header"];
        let mut quals = String::new();
        for (flag, word) in [
            ("is_const", "const "),
            ("is_async", "async "),
            ("is_unsafe", "unsafe "),
        ] {
            if header[flag] == true {
                quals.push_str(word);
            }
        }
        let inputs = join(array(&f["sig"]["inputs"]), ", ", |i| {
            let name = str_of(&i[0]);
            let ty = self.ty(&i[1]);
            match (name, ty.as_str()) {
                ("self", "Self") => "self".to_string(),
                ("self", "&Self") => "&self".to_string(),
                ("self", "&mut Self") => "&mut self".to_string(),
                _ => format!("{name}: {ty}"),
            }
        });
        format!(
            "{prefix}{quals}fn {path}{}({inputs}){}{}",
            self.generics(&f["generics"]["params"]),
            self.ret(&f["sig"]["output"]),
            self.where_clause(&f["generics"])
        )
    }

    fn non_exhaustive(item: &Value) -> &'static str {
        let marked = array(&item["attrs"]).iter().any(|a| match a {
            Value::String(s) => s.contains("non_exhaustive"),
            other => other.to_string().contains("non_exhaustive"),
        });
        if marked {
            "#[non_exhaustive] "
        } else {
            ""
        }
    }

    fn add(&mut self, line: String) {
        self.lines.insert(line);
    }

    fn find_modules(&mut self, path: &str, module: &Value) {
        self.public_modules.insert(path.to_string());
        for id in array(&module["items"]) {
            let item = self.item(id);
            if let ("module", inner) = tagged(&item["inner"]) {
                self.find_modules(&format!("{path}::{}", str_of(&item["name"])), inner);
            }
        }
    }

    fn module(&mut self, path: &str, module: &Value) {
        for id in array(&module["items"]) {
            let item = self.item(id);
            let name = str_of(&item["name"]);
            let here = format!("{path}::{name}");
            let (kind, inner) = tagged(&item["inner"]);
            match kind {
                "module" => {
                    self.add(format!("pub mod {here}"));
                    self.module(&here, inner);
                }
                "use" => {
                    let glob = if inner["is_glob"] == true { "::*" } else { "" };
                    self.add(format!(
                        "pub use {path}::{}{glob} = {}",
                        str_of(&inner["name"]),
                        str_of(&inner["source"])
                    ));
                    self.reexported(path, inner);
                }
                _ => self.definition(item, &here),
            }
        }
    }

    /// The definition behind a `pub use` of an item of a private module (its canonical path
    /// goes through a module that is not public): listed at the re-export too, with its
    /// fields, variants, methods and traits. Re-exports of items of public modules, listed
    /// there, stay one line.
    fn reexported(&mut self, path: &str, inner: &Value) {
        let target = self.item(&inner["id"]);
        if target.is_null() || target["crate_id"] != 0 {
            return;
        }
        let canonical = self
            .paths
            .get(inner["id"].to_string().as_str())
            .map(|p| join(array(&p["path"]), "::", |s| str_of(s).to_string()));
        let listed = |module: &str| self.public_modules.contains(module);
        if inner["is_glob"] == true {
            if let ("module", module) = tagged(&target["inner"]) {
                if !canonical.as_deref().is_some_and(listed) {
                    self.module(path, module);
                }
            }
            return;
        }
        let parent = canonical
            .as_deref()
            .and_then(|c| c.rsplit_once("::"))
            .map(|(parent, _)| parent);
        if !parent.is_some_and(listed) {
            let here = format!("{path}::{}", str_of(&inner["name"]));
            self.definition(target, &here);
        }
    }

    fn definition(&mut self, item: &Value, here: &str) {
        let (kind, inner) = tagged(&item["inner"]);
        let attrs = Self::non_exhaustive(item);
        match kind {
            "function" => {
                let line = self.function(&format!("{attrs}pub "), here, inner);
                self.add(line);
            }
            "struct" => {
                let generics = self.generics(&inner["generics"]["params"]);
                let (shape, fields) = tagged(&inner["kind"]);
                let mut line = format!("{attrs}pub struct {here}{generics}");
                match shape {
                    "tuple" => {
                        line.push_str(&format!(
                            "({})",
                            join(array(fields), ", ", |f| match f.is_null() {
                                true => "_".to_string(),
                                false => format!("pub {}", self.field_type(f)),
                            })
                        ));
                    }
                    "plain" => {
                        for f in array(&fields["fields"]) {
                            let field = self.item(f);
                            let line = format!(
                                "pub {here}.{}: {}",
                                str_of(&field["name"]),
                                self.field_type(f)
                            );
                            self.add(line);
                        }
                        if fields["has_stripped_fields"] == true {
                            line.push_str(" { .. private fields }");
                        }
                    }
                    _ => {}
                }
                self.add(line);
                self.impls(here, &inner["impls"]);
            }
            "enum" => {
                let generics = self.generics(&inner["generics"]["params"]);
                self.add(format!("{attrs}pub enum {here}{generics}"));
                for v in array(&inner["variants"]) {
                    let variant = self.item(v);
                    let vattrs = Self::non_exhaustive(variant);
                    let vpath = format!("{here}::{}", str_of(&variant["name"]));
                    let (shape, fields) = tagged(&variant["inner"]["variant"]["kind"]);
                    let shown = match shape {
                        "tuple" => format!(
                            "({})",
                            join(array(fields), ", ", |f| match f.is_null() {
                                true => "_".to_string(),
                                false => self.field_type(f),
                            })
                        ),
                        "struct" => format!(
                            " {{ {} }}",
                            join(array(&fields["fields"]), ", ", |f| format!(
                                "{}: {}",
                                str_of(&self.item(f)["name"]),
                                self.field_type(f)
                            ))
                        ),
                        _ => String::new(),
                    };
                    self.add(format!("{vattrs}pub variant {vpath}{shown}"));
                }
                self.impls(here, &inner["impls"]);
            }
            "trait" => {
                let bounds = match array(&inner["bounds"]).is_empty() {
                    true => String::new(),
                    false => format!(": {}", self.bounds(&inner["bounds"])),
                };
                let generics = self.generics(&inner["generics"]["params"]);
                self.add(format!("pub trait {here}{generics}{bounds}"));
                for id in array(&inner["items"]) {
                    self.associated(here, self.item(id), "");
                }
            }
            "constant" => {
                let line = format!("pub const {here}: {}", self.ty(&inner["type"]));
                self.add(line);
            }
            "static" => {
                let line = format!("pub static {here}: {}", self.ty(&inner["type"]));
                self.add(line);
            }
            "type_alias" => {
                let line = format!(
                    "pub type {here}{} = {}",
                    self.generics(&inner["generics"]["params"]),
                    self.ty(&inner["type"])
                );
                self.add(line);
            }
            "macro" | "proc_macro" => self.add(format!("pub macro {here}")),
            other => self.add(format!("pub {other} {here}")),
        }
    }

    fn field_type(&self, id: &Value) -> String {
        self.ty(&self.item(id)["inner"]["struct_field"])
    }

    /// An item of a trait or of an inherent impl.
    fn associated(&mut self, owner: &str, item: &Value, prefix: &str) {
        let here = format!("{owner}::{}", str_of(&item["name"]));
        let (kind, inner) = tagged(&item["inner"]);
        let line = match kind {
            "function" => self.function(prefix, &here, inner),
            "assoc_const" => format!("{prefix}const {here}: {}", self.ty(&inner["type"])),
            "assoc_type" => match array(&inner["bounds"]).is_empty() {
                true => format!("{prefix}type {here}"),
                false => format!("{prefix}type {here}: {}", self.bounds(&inner["bounds"])),
            },
            other => format!("{prefix}{other} {here}"),
        };
        self.add(line);
    }

    /// `Freeze`, `UnsafeUnpin` and `StructuralPartialEq`: marker traits stable Rust cannot
    /// name, whose list changes with the toolchain.
    fn unstable_marker_trait(&self, tr: &Value) -> bool {
        !tr.is_null()
            && matches!(
                self.path(tr).as_str(),
                "core::marker::Freeze"
                    | "core::marker::UnsafeUnpin"
                    | "core::marker::StructuralPartialEq"
            )
    }

    /// Inherent items (public ones) and implemented traits, blanket impls left out.
    fn impls(&mut self, owner: &str, impls: &Value) {
        for id in array(impls) {
            let block = &self.item(id)["inner"]["impl"];
            if !block["blanket_impl"].is_null() || self.unstable_marker_trait(&block["trait"]) {
                continue;
            }
            let generics = self.generics(&block["generics"]["params"]);
            let wheres = self.where_clause(&block["generics"]);
            if block["trait"].is_null() {
                for item in array(&block["items"]) {
                    let item = self.item(item);
                    if str_of(&item["visibility"]) == "public" {
                        self.associated(owner, item, "pub ");
                    }
                }
            } else {
                let not = if block["is_negative"] == true {
                    "!"
                } else {
                    ""
                };
                let line = format!(
                    "impl{generics} {not}{} for {}{wheres}",
                    self.path(&block["trait"]),
                    self.ty(&block["for"])
                );
                self.add(line);
            }
        }
    }
}

/// The rendered list, made once for both tests.
fn rendered() -> &'static str {
    static LIST: OnceLock<String> = OnceLock::new();
    LIST.get_or_init(render)
}

fn render() -> String {
    let doc = rustdoc_json();
    let mut api = Api {
        index: &doc["index"],
        paths: &doc["paths"],
        public_modules: BTreeSet::new(),
        lines: BTreeSet::new(),
    };
    let root = api.item(&doc["root"]);
    assert_eq!(str_of(&root["name"]), "daneel_core");
    api.find_modules("daneel_core", &root["inner"]["module"]);
    api.module("daneel_core", &root["inner"]["module"]);
    let mut out = String::from(HEADER);
    for line in &api.lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn public_api_of_daneel_core_matches_the_checked_in_list() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LIST);
    let now = rendered();
    if std::env::var_os("DANEEL_UPDATE_API").is_some() {
        std::fs::write(&path, now).expect("write the API list");
        return;
    }
    let listed = std::fs::read_to_string(&path).unwrap_or_default();
    if listed != now {
        let old: BTreeSet<&str> = listed.lines().collect();
        let new: BTreeSet<&str> = now.lines().collect();
        let removed = join(old.difference(&new), "\n", |l| format!("- {l}"));
        let added = join(new.difference(&old), "\n", |l| format!("+ {l}"));
        panic!(
            "the public API of daneel-core changed; if intended, run \
             `DANEEL_UPDATE_API=1 cargo test -p daneel --test public_api` and commit tests/{LIST}:\n\
             {removed}\n{added}"
        );
    }
}

/// The renderer sees what it must: items, signatures, fields, variants, trait impls.
#[test]
fn the_list_holds_signatures_fields_variants_and_traits() {
    let now = rendered();
    for expected in [
        "pub mod daneel_core::dane",
        "pub struct daneel_core::dane::verifier::DaneVerifier { .. private fields }",
        "pub fn daneel_core::dane::verifier::DaneVerifier::smtp(set: daneel_core::dane::tlsa::TlsaSet, security: daneel_core::dns::security::Security, reference_ids: alloc::vec::Vec<alloc::string::String>, provider: &rustls::crypto::CryptoProvider) -> core::result::Result<Self, daneel_core::dane::verifier::VerifierError>",
        "pub fn daneel_core::dane::verifier::DaneVerifier::client_connection(self: &alloc::sync::Arc<Self>, ",
        "pub struct daneel_core::dane::tlsa::TlsaRecord",
        "pub daneel_core::dane::tlsa::TlsaRecord.usage: u8",
        "fn daneel_core::machine::Machine::poll_output(&mut self, now: daneel_core::time::Timestamp) -> daneel_core::machine::Output",
        "pub variant daneel_core::machine::Output::Timeout(daneel_core::time::Timestamp)",
        "pub variant daneel_core::report::DomainVerdict::DaneVerified",
        "impl core::clone::Clone for daneel_core::dane::tlsa::TlsaRecord",
        "impl core::marker::Send for daneel_core::seed::Seed",
        "impl rustls::verify::ServerCertVerifier for daneel_core::dane::verifier::DaneVerifier",
        "pub use daneel_core::Seed = seed::Seed",
        "#[non_exhaustive] pub struct daneel_core::delivery::DeliveryReport",
        "pub fn daneel_core::delivery::DeliveryReport::new(from: alloc::string::String, size: u64, ",
    ] {
        assert!(
            now.lines().any(|l| l.starts_with(expected)),
            "no line starts with {expected:?}"
        );
    }
}

/// The lines of the rendered public API that contain `needle`.
fn api_lines_containing(needle: &str) -> Vec<&'static str> {
    rendered().lines().filter(|l| l.contains(needle)).collect()
}

/// daneel keeps its own types in its public API (issue 15): no hickory-proto type, whose 0.x
/// releases break their API, appears in a signature, field, variant or trait impl.
#[test]
fn no_hickory_type_is_in_the_public_api() {
    let leaks = api_lines_containing("hickory");
    assert!(
        leaks.is_empty(),
        "hickory-proto types in daneel-core's public API:\n{}",
        leaks.join("\n")
    );
}

/// The only certificate verifier daneel-core offers is `DaneVerifier`, which refuses an
/// unusable TLSA set (issue 15, RFC 7672 sec. 2.2). The machines' handshake-only verifier
/// accepts every chain that parses and is safe only inside them (the trust decision follows
/// on `TlsEstablished`), so it and the configurations that carry it stay internal.
#[test]
fn no_public_verifier_accepts_every_chain() {
    let verifiers = api_lines_containing("ServerCertVerifier for");
    assert_eq!(
        verifiers,
        ["impl rustls::verify::ServerCertVerifier for daneel_core::dane::verifier::DaneVerifier"],
        "public certificate verifiers"
    );
    let configs =
        api_lines_containing("-> alloc::sync::Arc<rustls::client::client_conn::ClientConfig>");
    assert!(
        configs.is_empty(),
        "public handshake-only configurations: {configs:?}"
    );
}
