//! Human and JSON output of a report: the human form reads like a postmaster's log, one line
//! per step, then one line per connection, host and the domain.

use super::say;
use daneel_core::mua::compat::ROWS;
use daneel_core::mua::{ClassReport, CompatCell, Compatibility, ServiceReport};
use daneel_core::report::{ConnectionReport, HostReport, Report};

fn kebab<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn connection_line(c: &ConnectionReport) -> String {
    let mut line = format!("    {} {}", c.address, kebab(&c.verdict));
    if let Some(tls) = &c.tls {
        line.push_str(&format!(", {} {}", tls.version, tls.cipher));
        if let Some(sni) = &tls.sni {
            line.push_str(&format!(", SNI {sni}"));
        }
    } else if !c.starttls {
        line.push_str(", no STARTTLS");
    }
    if let Some(m) = &c.matched {
        line.push_str(&format!(", matched {} at depth {}", m.record, m.depth));
        if let Some(p) = &m.peername {
            line.push_str(&format!(" (peername {p})"));
        }
    }
    if let Some(by) = &c.authenticated_by {
        line.push_str(&format!(", authenticated by {}", kebab(by)));
        if let Some(name) = &c.authenticated_name {
            line.push_str(&format!(" as {name}"));
        }
    }
    if let Some(cert) = &c.certificate {
        line.push_str(&format!(", certificate expires {}", cert.not_after));
    }
    if let Some(r) = &c.reason {
        line.push_str(&format!(" [{r}]"));
    }
    line
}

fn host_lines(h: &HostReport, out: &mut Vec<String>) {
    let pref = match (h.preference, h.port) {
        (Some(p), Some(port)) => format!(" port {port} (priority {p})"),
        (Some(p), None) => format!(" (MX {p})"),
        (None, Some(port)) => format!(" port {port}"),
        (None, None) => String::new(),
    };
    let mut line = format!(
        "  {}{pref}: {}, policy {}",
        h.name,
        kebab(&h.verdict),
        kebab(&h.policy)
    );
    if let Some(base) = &h.tlsa_base {
        line.push_str(&format!(", TLSA base {base}"));
    }
    if let Some(t) = &h.tlsa {
        if let Some(exp) = &t.rrsig_expires {
            line.push_str(&format!(", TLSA RRSIG expires {exp}"));
        }
        if let Some(ttl) = t.ttl {
            line.push_str(&format!(", TTL {ttl}"));
        }
    }
    if let Some(lookup) = h.failed_lookup {
        line.push_str(&format!(", {} lookup failed", lookup.as_str()));
    }
    if let Some(r) = &h.reason {
        line.push_str(&format!(" [{r}]"));
    }
    out.push(line);
    out.extend(h.connections.iter().map(connection_line));
}

fn service_lines(svc: &ServiceReport, out: &mut Vec<String>) {
    let mut line = format!(
        "  {} ({}): {}",
        svc.service,
        svc.owner,
        svc.verdict.as_str()
    );
    match &svc.srv {
        Some(srv) if srv.null_target => {
            line.push_str(&format!(", SRV {}: \".\"", kebab(&srv.security)))
        }
        Some(srv) if srv.records.is_empty() => line.push_str(", no SRV records"),
        Some(srv) => line.push_str(&format!(", SRV {}", kebab(&srv.security))),
        None => {}
    }
    if let Some(r) = &svc.reason {
        line.push_str(&format!(" [{r}]"));
    }
    out.push(line);
    for h in &svc.targets {
        host_lines(h, out);
    }
    if let Some(m) = &svc.compatibility {
        compatibility_lines(m, out);
    }
}

/// One cell of the matrix table: `ok`, the reason code of a refusal, or `untried`.
fn cell_text(cell: Option<&CompatCell>) -> String {
    match cell {
        None => "-".into(),
        Some(c) => match (c.accepted, &c.reason) {
            (Some(true), _) => "ok".into(),
            (Some(false), Some(r)) => r.code().into(),
            (Some(false), None) => "refused".into(),
            (None, Some(r)) => format!("untried ({})", r.code()),
            (None, None) => "untried".into(),
        },
    }
}

/// The client compatibility matrix as a table: per target, a row per SNI the clients send
/// (the target host name, the mail domain, none), a column per client class
/// (draft-fanf-dane-mua); `-` where a class never sends that SNI.
fn compatibility_lines(m: &Compatibility, out: &mut Vec<String>) {
    let line = |target: &str, sni: &str, cells: [String; 3]| {
        format!(
            "    {target:<24} {sni:<30} {:<20} {:<20} {}",
            cells[0], cells[1], cells[2]
        )
    };
    out.push(line(
        "compatibility",
        "row",
        ["legacy".into(), "rfc6186".into(), "dane".into()],
    ));
    let sni_text = |sni: &Option<String>| match sni {
        Some(name) => format!("SNI {name}"),
        None => "no SNI".into(),
    };
    for (t, dane) in m.dane.cells.iter().enumerate() {
        fn at(class: &ClassReport, t: usize, row: usize) -> Option<&CompatCell> {
            class.cells.get(t * ROWS + row)
        }
        // (SNI, legacy cell, RFC 6186 cell): each PKIX class has its SNI row, then no SNI.
        let mut rows = vec![
            (at(&m.legacy, t, 0), Some(at(&m.legacy, t, 0)), None),
            (at(&m.rfc6186, t, 0), None, Some(at(&m.rfc6186, t, 0))),
            (
                at(&m.legacy, t, 1),
                Some(at(&m.legacy, t, 1)),
                Some(at(&m.rfc6186, t, 1)),
            ),
        ];
        let sni_of = |row: &(Option<&CompatCell>, _, _)| row.0.map(|c| c.sni.clone());
        let dane_row = rows
            .iter()
            .position(|r| sni_of(r) == Some(dane.sni.clone()));
        if dane_row.is_none() {
            rows.insert(0, (Some(dane), None, None));
        }
        let dane_row = dane_row.unwrap_or(0);
        for (i, row) in rows.iter().enumerate() {
            let pick = |cell: Option<Option<&CompatCell>>| match cell {
                Some(c) => cell_text(c),
                None => "-".into(),
            };
            out.push(line(
                &dane.target,
                &row.0.map(|c| sni_text(&c.sni)).unwrap_or_default(),
                [
                    pick(row.1),
                    pick(row.2),
                    pick((i == dane_row).then_some(Some(dane))),
                ],
            ));
        }
        let certs: Vec<&CompatCell> = rows
            .iter()
            .filter_map(|r| r.0)
            .filter(|c| c.certificate_sha256.is_some())
            .collect();
        if certs
            .iter()
            .any(|c| c.certificate_sha256 != certs[0].certificate_sha256)
        {
            let shown: Vec<String> = certs
                .iter()
                .map(|c| format!("{}: {}", sni_text(&c.sni), c.certificate_names.join(" ")))
                .collect();
            out.push(format!(
                "    {:<24} the certificate depends on SNI: {}",
                "",
                shown.join("; ")
            ));
        }
    }
    out.push(line(
        "clients served",
        "",
        [&m.legacy, &m.rfc6186, &m.dane].map(|c| kebab(&c.verdict)),
    ));
}

/// The human form.
pub fn human(report: &Report) -> String {
    let mut out: Vec<String> = report
        .log
        .iter()
        .map(|l| format!("{:>7.3}s {}", l.at_ms as f64 / 1000.0, l.text))
        .collect();
    out.push(String::new());
    out.push(format!(
        "{}: {} (exit {})",
        report.domain,
        report.verdict.as_str(),
        report.verdict.exit_code()
    ));
    if let Some(r) = &report.reason {
        out.push(format!("  reason: {r}"));
    }
    if !report.tlsrpt.is_not_looked_up() {
        out.push(format!("  TLSRPT record: {}", report.tlsrpt));
    }
    if let Some(r) = &report.redecided {
        out.push(format!(
            "  re-decided by this version from a format-{} transcript recorded by {}{}: {} DNS exchange(s) and {} connection(s) answered from it",
            r.format,
            r.recorded_by,
            r.recorded_verdict
                .map(|v| format!(" (recorded verdict {})", v.as_str()))
                .unwrap_or_default(),
            r.dns_exchanges,
            r.connections
        ));
    }
    for h in &report.hosts {
        host_lines(h, &mut out);
    }
    for svc in &report.services {
        service_lines(svc, &mut out);
    }
    for a in &report.autoconfig {
        out.push(format!(
            "  store for {}: {} {}:{} ({}), {}{}",
            kebab(&a.purpose),
            a.service,
            a.host,
            a.port,
            kebab(&a.tls),
            a.authenticated_by
                .map(|b| format!("authenticated by {}", kebab(&b)))
                .unwrap_or_else(|| kebab(&a.connection)),
            a.authenticated_name
                .as_ref()
                .map(|n| format!(" as {n}"))
                .unwrap_or_default()
        ));
    }
    if !report.resolvers.is_empty() {
        out.push(match report.resolver.mode.as_str() {
            "validate" => {
                "  DNSSEC: every status validated by daneel from the trust anchors".into()
            }
            mode => format!("  DNSSEC: statuses from the resolver's AD bit ({mode})"),
        });
    }
    for r in &report.resolvers {
        out.push(format!(
            "  resolver {} ({}): {}{}{}",
            r.address,
            if r.loopback { "loopback" } else { "remote" },
            kebab(&r.probe),
            r.detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default(),
            if r.used { ", used" } else { ", not used" }
        ));
    }
    for w in &report.warnings {
        out.push(format!("  warning: {w}"));
    }
    out.join("\n")
}

/// Prints the report, as JSON (DESIGN.md section 6) or for humans.
pub fn print_report(report: &Report, json: bool) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => say!("{text}"),
            Err(e) => eprintln!("daneel: cannot serialize the report: {e}"),
        }
    } else {
        say!("{}", human(report));
    }
}
