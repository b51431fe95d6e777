//! The RFC 7672 planner: pure decisions from DNS answers to a per-host policy.
//!
//! Each function here implements one step of RFC 7672 sec. 2.2 and is free of state and I/O,
//! so [`crate::check::SmtpCheck`] only sequences them and the tests can pin each rule:
//!
//! 1. [`plan_mx`]: the MX RRset with its DNSSEC status, sorted by preference with a seeded
//!    shuffle among equal preferences, null MX, implicit MX, duplicates, IP-address targets
//!    (RFC 7672 sec. 2.2.1, RFC 5321 sec. 5.1, RFC 7505).
//! 2. [`tlsa_candidates`]: the TLSA base domain candidates from the address answers and, when
//!    needed, the separate CNAME query (RFC 7672 sec. 2.1.3 and 2.2.2).
//! 3. [`classify_tlsa`]: outcomes (a)-(d) of RFC 7672 sec. 2.2 for one candidate.
//! 4. [`decide_policy`]: the host policy, including Postfix's insecure-MX policy.
//! 5. [`reference_identifiers`] and [`sni_name`]: RFC 7672 sec. 3.2.2 and 8.1.

use std::net::IpAddr;

use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};

use crate::dane::{DigestPrefs, TlsaRecord, TlsaSet, UsagePolicy};
use crate::check::DestinationError;
use crate::dns::{Answer, DomainName, LookupError, LookupResult, RcodeClass, Security};
use crate::report::{HostPolicy, Warning};
use crate::seed::DetRng;

/// What to do when the MX RRset is insecure but an MX host has secure TLSA records
/// (RFC 7672 sec. 2.2.1 leaves it to the client; Postfix's
/// `smtp_tls_dane_insecure_mx_policy`, whose default is `dane`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InsecureMxPolicy {
    /// Authenticate with the host's TLSA records; success is logged as "trusted", never
    /// "verified" (RFC 7672 sec. 2.2.1: not secure delivery to the next-hop domain).
    #[default]
    Dane,
    /// TLS is mandatory but unauthenticated.
    Encrypt,
    /// Ignore the TLSA records: opportunistic TLS (no TLSA lookup at all).
    May,
}

/// Whether to send SNI (RFC 6066 sec. 3; RFC 7672 sec. 8.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SniMode {
    /// The TLSA base domain for DANE hosts, the MX host name otherwise.
    #[default]
    Auto,
    /// No SNI at all (a diagnostic: RFC 7672 sec. 8.1 says servers must not require it).
    None,
}

/// One host to deliver to, from the MX RRset or the destination itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxTarget {
    /// The MX preference, when the host came from an MX record.
    pub preference: Option<u16>,
    /// The host name (fully qualified, lower case).
    pub name: Name,
    /// Set when the "host name" is an IP address: RFC 7672 sec. 2.2 says DANE does not apply.
    pub literal: Option<IpAddr>,
}

/// What the MX lookup says about the destination (RFC 5321 sec. 5.1, RFC 7505).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxKind {
    /// The domain does not exist.
    NxDomain,
    /// A null MX: the domain accepts no mail (RFC 7505 sec. 3).
    NullMx,
    /// No MX records: the domain is its own implicit MX (RFC 5321 sec. 5.1).
    Implicit,
    /// MX hosts in the order to try them.
    Hosts(Vec<MxTarget>),
}

/// The decoded MX lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxPlan {
    /// DNSSEC status of the MX RRset (or of its denial of existence) including any CNAME on
    /// the way (RFC 7672 sec. 2.2.1: an insecure CNAME makes the whole MX RRset insecure).
    pub security: Security,
    /// What it says.
    pub kind: MxKind,
    /// The next-hop domain after CNAME expansion (a third reference identifier,
    /// RFC 7672 sec. 3.2.2).
    pub expanded: Name,
    /// The CNAME links followed, as `owner -> target` strings.
    pub cnames: Vec<String>,
}

/// Presentation form of a name without the trailing dot, lower case.
pub fn display_name(name: &Name) -> String {
    let s = name.to_lowercase().to_ascii();
    match s.strip_suffix('.') {
        Some(stripped) if !stripped.is_empty() => stripped.to_string(),
        _ => s,
    }
}

/// Parses a host or domain name given by a user as [`DomainName`] does (IDNA U-labels
/// become A-labels, the name is made fully qualified and lower-cased), after trimming, and
/// refuses the root, which names no mail domain or host.
pub fn parse_domain(text: &str) -> Result<Name, DestinationError> {
    let text = text.trim();
    let name: DomainName = text.parse().map_err(|error| DestinationError::Name {
        text: text.into(),
        error,
    })?;
    match name.is_root() {
        true => Err(DestinationError::Root),
        false => Ok(name.as_hickory().clone()),
    }
}

/// The IP address an MX "host name" spells, if it is one (RFC 7672 sec. 2.2, R15).
pub(crate) fn literal_address(name: &Name) -> Option<IpAddr> {
    display_name(name).parse().ok()
}

/// Decodes the MX answer for `domain` (RFC 7672 sec. 2.2.1).
///
/// Records are sorted by preference; equal preferences are shuffled with `rng` (RFC 5321
/// sec. 5.1); a less-preferred host with TLSA records never pre-empts a more-preferred one
/// (R17). A single `0 .` record is a null MX (RFC 7505); a `.` beside other records is not,
/// and is dropped with a warning. Duplicate hosts are kept once, at their best preference.
pub fn plan_mx(
    domain: &Name,
    answer: &Answer,
    rng: &mut DetRng,
    warnings: &mut Vec<Warning>,
) -> MxPlan {
    let cnames = answer
        .cnames
        .iter()
        .map(|(owner, target)| format!("{} -> {}", display_name(owner), display_name(target)))
        .collect();
    let kind = match answer.rcode {
        RcodeClass::NxDomain => MxKind::NxDomain,
        RcodeClass::NoData => MxKind::Implicit,
        RcodeClass::Data => {
            let mut records = answer.mx();
            if records.len() == 1 && records[0].0 == 0 && records[0].1.is_root() {
                MxKind::NullMx
            } else {
                if records.iter().any(|(_, exchange)| exchange.is_root()) {
                    warnings.push(Warning::RootMxIgnored {
                        domain: display_name(domain),
                    });
                    records.retain(|(_, exchange)| !exchange.is_root());
                }
                // Seeded shuffle first, then a stable sort by preference: equal preferences
                // end up in random but reproducible order.
                rng.shuffle(&mut records);
                records.sort_by_key(|(preference, _)| *preference);
                let mut hosts: Vec<MxTarget> = Vec::new();
                for (preference, exchange) in records {
                    let name = exchange.to_lowercase();
                    if hosts.iter().any(|h| h.name == name) {
                        warnings.push(Warning::DuplicateMx {
                            domain: display_name(domain),
                            host: display_name(&name),
                        });
                        continue;
                    }
                    let literal = literal_address(&name);
                    if literal.is_some() {
                        warnings.push(Warning::MxIsAddress {
                            domain: display_name(domain),
                            host: display_name(&name),
                        });
                    }
                    hosts.push(MxTarget {
                        preference: Some(preference),
                        name,
                        literal,
                    });
                }
                MxKind::Hosts(hosts)
            }
        }
    };
    MxPlan {
        security: answer.security,
        kind,
        expanded: answer.final_name.to_lowercase(),
        cnames,
    }
}

/// The next step for a host once its address answers are in (RFC 7672 sec. 2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseDecision {
    /// Query TLSA at these base domains, in order (expanded name first, then the original).
    Candidates(Vec<Name>),
    /// The address answers went through a CNAME and are insecure: ask for the CNAME alone
    /// to learn the status of the initial response (RFC 7672 sec. 2.1.3, R11).
    NeedCnameProbe,
    /// DANE does not apply to this host (insecure addresses, or no addresses).
    NoDane,
    /// The CNAME probe failed: the host's status is unknown, so it is unreachable
    /// (RFC 7672 sec. 2.1.2; Postfix tempfails in this case).
    Failed(LookupError),
}

/// Decides the TLSA base domain candidates of `host` from its address answers (A and/or
/// AAAA, only those that completed) and the separate CNAME probe if one was made
/// (RFC 7672 sec. 2.2.2, cases R24).
///
/// Address answers with records decide, and one secure RRset is enough: when A and AAAA
/// disagree, TLSA is still looked up (as RFC 7673 sec. 3.2 says for SRV targets), and the
/// caller applies the host's TLSA policy to every address of the host, including those of
/// the insecure RRset. Skipping TLSA because one family is unsigned would let an attacker
/// who can strip the signatures of one RRset downgrade the whole host. Intermediate names
/// of a CNAME chain are never candidates.
pub fn tlsa_candidates(
    host: &Name,
    answers: &[&Answer],
    cname_probe: Option<&LookupResult>,
) -> BaseDecision {
    let with_data: Vec<&&Answer> = answers
        .iter()
        .filter(|a| a.rcode == RcodeClass::Data)
        .collect();
    if with_data.is_empty() {
        return BaseDecision::NoDane;
    }
    let secure = with_data.iter().find(|a| a.security.is_secure());
    let via_cname = with_data.iter().any(|a| !a.cnames.is_empty());
    let host = host.to_lowercase();
    if !via_cname {
        return if secure.is_some() {
            BaseDecision::Candidates(vec![host])
        } else {
            BaseDecision::NoDane
        };
    }
    if let Some(secure) = secure {
        let expanded = secure.final_name.to_lowercase();
        return if expanded == host {
            BaseDecision::Candidates(vec![host])
        } else {
            BaseDecision::Candidates(vec![expanded, host])
        };
    }
    match cname_probe {
        None => BaseDecision::NeedCnameProbe,
        Some(Ok(probe)) if probe.security.is_secure() && probe.rcode == RcodeClass::Data => {
            BaseDecision::Candidates(vec![host])
        }
        Some(Ok(_)) => BaseDecision::NoDane,
        Some(Err(e)) => BaseDecision::Failed(e.clone()),
    }
}

/// The TLSA query name for a base domain and port: `_<port>._tcp.<base>` (RFC 7672
/// sec. 2.2.3, R26).
pub fn tlsa_query_name(port: u16, base: &Name) -> Result<Name, LookupError> {
    Name::from_ascii(format!("_{port}._tcp"))
        .and_then(|prefix| prefix.append_name(base))
        .map_err(|_| LookupError::NameTooLong)
}

/// Outcomes of RFC 7672 sec. 2.2 for one TLSA candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsaOutcome {
    /// (a) Secure, at least one usable record.
    Usable(TlsaSet),
    /// (b) Secure, non-empty, every record unusable.
    AllUnusable(TlsaSet),
    /// Secure denial of existence: try the next candidate, else (c).
    SecureAbsent,
    /// Insecure records or insecure denial: try the next candidate, else (c) (R27).
    Insecure,
    /// (d) The lookup failed: the host is unreachable (R8); no fallback to the next
    /// candidate (R35, Postfix: "If the rname lookup fails we don't try the qname").
    Failed(LookupError),
}

impl TlsaOutcome {
    /// Whether the next candidate base domain should be tried (R27, R31).
    pub fn try_next_candidate(&self) -> bool {
        matches!(self, TlsaOutcome::SecureAbsent | TlsaOutcome::Insecure)
    }
}

/// Classifies a TLSA lookup (RFC 7672 sec. 2.2 and 2.2.3). A TLSA CNAME chain is judged by
/// the overall status of the answer; it never changes the base domain (R28).
pub fn classify_tlsa(
    result: &LookupResult,
    usages: &UsagePolicy,
    digests: &DigestPrefs,
) -> TlsaOutcome {
    let answer = match result {
        Err(e) => return TlsaOutcome::Failed(e.clone()),
        Ok(answer) => answer,
    };
    if !answer.security.is_secure() {
        return TlsaOutcome::Insecure;
    }
    match answer.rcode {
        RcodeClass::NxDomain | RcodeClass::NoData => TlsaOutcome::SecureAbsent,
        RcodeClass::Data => {
            let records: Vec<TlsaRecord> = answer.tlsa();
            if records.is_empty() {
                return TlsaOutcome::SecureAbsent;
            }
            let set = TlsaSet::new(records, usages, digests);
            if set.has_usable() {
                TlsaOutcome::Usable(set)
            } else {
                TlsaOutcome::AllUnusable(set)
            }
        }
    }
}

/// The host policy from the TLSA outcome and the MX status (RFC 7672 sec. 2.2 and 2.2.1).
/// Returns the policy and whether success counts only as "trusted" (insecure MX).
///
/// `mx_secure` is true for a secure MX RRset, an implicit MX with secure denial, and for
/// statically configured `[host]` destinations (treated like a secure MX host, as Postfix does).
pub fn decide_policy(
    outcome: &TlsaOutcome,
    mx_secure: bool,
    insecure_mx: InsecureMxPolicy,
) -> (HostPolicy, bool) {
    match outcome {
        TlsaOutcome::Failed(_) => (HostPolicy::Skip, false),
        TlsaOutcome::SecureAbsent | TlsaOutcome::Insecure => (HostPolicy::Opportunistic, false),
        TlsaOutcome::Usable(_) if mx_secure => (HostPolicy::Dane, false),
        TlsaOutcome::AllUnusable(_) if mx_secure => (HostPolicy::Encrypt, false),
        TlsaOutcome::Usable(_) => match insecure_mx {
            InsecureMxPolicy::Dane => (HostPolicy::Dane, true),
            InsecureMxPolicy::Encrypt => (HostPolicy::Encrypt, false),
            InsecureMxPolicy::May => (HostPolicy::Opportunistic, false),
        },
        TlsaOutcome::AllUnusable(_) => match insecure_mx {
            InsecureMxPolicy::Dane | InsecureMxPolicy::Encrypt => (HostPolicy::Encrypt, false),
            InsecureMxPolicy::May => (HostPolicy::Opportunistic, false),
        },
    }
}

/// How the host was reached, for RFC 7672 sec. 3.2.2.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // RFC 7672's own words: secure and insecure MX
pub enum NextHop {
    /// Through a secure MX lookup of `original`, which CNAME-expanded to `expanded`.
    SecureMx {
        /// The next-hop domain as given.
        original: Name,
        /// Its CNAME expansion (equal to `original` if none).
        expanded: Name,
    },
    /// Through an insecure MX lookup (DANE used anyway: the MX host name is the only
    /// reference identifier besides the base domain).
    InsecureMx,
    /// Not through MX records: an implicit MX or a `[host]` destination named `original`.
    NonMx {
        /// The next-hop name as given.
        original: Name,
    },
}

/// The reference identifiers for DANE-TA(2) name checks (RFC 7672 sec. 3.2.2): the TLSA base
/// domain always; with a secure MX the original and CNAME-expanded next-hop domain; for a
/// non-MX destination whose base domain is its CNAME expansion, the original name; with an
/// insecure MX the MX host name only.
pub fn reference_identifiers(base: &Name, mx_host: &Name, next_hop: &NextHop) -> Vec<String> {
    let mut ids = vec![display_name(base)];
    let mut push = |name: &Name| {
        let s = display_name(name);
        if !ids.contains(&s) {
            ids.push(s);
        }
    };
    match next_hop {
        NextHop::SecureMx { original, expanded } => {
            push(original);
            push(expanded);
        }
        NextHop::InsecureMx => push(mx_host),
        NextHop::NonMx { original } => push(original),
    }
    ids
}

/// The SNI name for a connection (RFC 7672 sec. 8.1, DESIGN.md section 5): the TLSA base
/// domain for `dane` and `encrypt` hosts, the MX host name for opportunistic ones, none for
/// IP addresses or with [`SniMode::None`].
pub fn sni_name(
    policy: HostPolicy,
    base: Option<&Name>,
    host: &Name,
    literal: bool,
    mode: SniMode,
) -> Option<String> {
    if literal || mode == SniMode::None {
        return None;
    }
    match (policy, base) {
        (HostPolicy::Dane | HostPolicy::Encrypt, Some(base)) => Some(display_name(base)),
        _ => Some(display_name(host)),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::rr::rdata::{A, CNAME, MX};
    use hickory_proto::rr::{RData, Record, RecordType};

    use super::*;
    use crate::seed::Seed;

    fn name(s: &str) -> Name {
        parse_domain(s).unwrap()
    }

    fn answer(
        qname: &str,
        qtype: RecordType,
        security: Security,
        rcode: RcodeClass,
        data: Vec<RData>,
    ) -> Answer {
        Answer {
            qname: name(qname),
            qtype,
            security,
            rcode,
            cnames: Vec::new(),
            final_name: name(qname),
            records: data
                .into_iter()
                .map(|d| Record::from_rdata(name(qname), 300, d))
                .collect(),
            ttl: Some(300),
            rrsig_expires: None,
            ede: Vec::new(),
            server: "127.0.0.1:53".parse().unwrap(),
            sections: Default::default(),
        }
    }

    fn mx_answer(records: &[(u16, &str)]) -> Answer {
        let data = records
            .iter()
            .map(|(p, n)| {
                let exchange = if *n == "." { Name::root() } else { name(n) };
                RData::MX(MX::new(*p, exchange))
            })
            .collect();
        answer(
            "example.com",
            RecordType::MX,
            Security::Secure,
            RcodeClass::Data,
            data,
        )
    }

    fn hosts(plan: &MxPlan) -> Vec<String> {
        match &plan.kind {
            MxKind::Hosts(h) => h.iter().map(|t| display_name(&t.name)).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mx_sorted_by_preference_with_a_seeded_shuffle_among_equals() {
        let records = [
            (20, "c.example"),
            (10, "a.example"),
            (10, "b.example"),
            (30, "d.example"),
        ];
        let mut orders = std::collections::BTreeSet::new();
        for seed in 0..32 {
            let mut rng = DetRng::new(Seed(seed), 2);
            let plan = plan_mx(
                &name("example.com"),
                &mx_answer(&records),
                &mut rng,
                &mut Vec::new(),
            );
            let h = hosts(&plan);
            // R17: a less-preferred host never comes first, whatever the seed.
            assert_eq!(&h[2..], ["c.example", "d.example"]);
            orders.insert(h[..2].to_vec());
            // Same seed, same order.
            let mut again = DetRng::new(Seed(seed), 2);
            assert_eq!(
                h,
                hosts(&plan_mx(
                    &name("example.com"),
                    &mx_answer(&records),
                    &mut again,
                    &mut Vec::new()
                ))
            );
        }
        assert_eq!(
            orders.len(),
            2,
            "both orders of the equal-preference pair occur"
        );
    }

    #[test]
    fn null_mx_is_exactly_one_zero_dot_record() {
        let mut rng = DetRng::new(Seed(1), 0);
        let domain = name("example.com");
        assert_eq!(
            plan_mx(&domain, &mx_answer(&[(0, ".")]), &mut rng, &mut Vec::new()).kind,
            MxKind::NullMx
        );
        let mut warnings = Vec::new();
        let plan = plan_mx(
            &domain,
            &mx_answer(&[(0, "."), (10, "mx.example")]),
            &mut rng,
            &mut warnings,
        );
        assert_eq!(hosts(&plan), ["mx.example"]);
        assert!(
            matches!(&warnings[..], [Warning::RootMxIgnored { domain }] if domain == "example.com"),
            "{warnings:?}"
        );
        // "." with another preference is no null MX either: no host is left.
        let plan = plan_mx(&domain, &mx_answer(&[(10, ".")]), &mut rng, &mut Vec::new());
        assert_eq!(hosts(&plan), Vec::<String>::new());
    }

    #[test]
    fn duplicates_once_and_ip_address_targets_flagged() {
        let mut rng = DetRng::new(Seed(1), 0);
        let mut warnings = Vec::new();
        let plan = plan_mx(
            &name("example.com"),
            &mx_answer(&[(10, "MX.example"), (20, "mx.example"), (30, "192.0.2.1")]),
            &mut rng,
            &mut warnings,
        );
        let MxKind::Hosts(h) = plan.kind else {
            panic!()
        };
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].preference, Some(10));
        assert_eq!(h[1].literal, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            warnings,
            [
                Warning::DuplicateMx {
                    domain: "example.com".into(),
                    host: "mx.example".into()
                },
                Warning::MxIsAddress {
                    domain: "example.com".into(),
                    host: "192.0.2.1".into()
                }
            ]
        );
    }

    #[test]
    fn implicit_mx_and_nxdomain() {
        let mut rng = DetRng::new(Seed(1), 0);
        let nodata = answer(
            "example.com",
            RecordType::MX,
            Security::Insecure,
            RcodeClass::NoData,
            vec![],
        );
        let plan = plan_mx(&name("example.com"), &nodata, &mut rng, &mut Vec::new());
        assert_eq!(
            (plan.kind, plan.security),
            (MxKind::Implicit, Security::Insecure)
        );
        let nx = answer(
            "example.com",
            RecordType::MX,
            Security::Secure,
            RcodeClass::NxDomain,
            vec![],
        );
        assert_eq!(
            plan_mx(&name("example.com"), &nx, &mut rng, &mut Vec::new()).kind,
            MxKind::NxDomain
        );
    }

    fn a_answer(host: &str, security: Security, via: Option<&str>) -> Answer {
        let mut a = answer(
            host,
            RecordType::A,
            security,
            RcodeClass::Data,
            vec![RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))],
        );
        if let Some(target) = via {
            a.cnames = vec![(name(host), name(target))];
            a.final_name = name(target);
        }
        a
    }

    fn cname_probe(host: &str, security: Security) -> LookupResult {
        Ok(answer(
            host,
            RecordType::CNAME,
            security,
            RcodeClass::Data,
            vec![RData::CNAME(CNAME(name("x.example")))],
        ))
    }

    /// The five cases of RFC 7672 sec. 2.2.2 (R24).
    #[test]
    fn tlsa_base_domain_candidates() {
        let host = name("mx.example.com");
        let c = |v: &[&str]| BaseDecision::Candidates(v.iter().map(|s| name(s)).collect());
        // Non-CNAME, secure: the host itself.
        assert_eq!(
            tlsa_candidates(
                &host,
                &[&a_answer("mx.example.com", Security::Secure, None)],
                None
            ),
            c(&["mx.example.com"])
        );
        // Non-CNAME, insecure: no DANE.
        assert_eq!(
            tlsa_candidates(
                &host,
                &[&a_answer("mx.example.com", Security::Insecure, None)],
                None
            ),
            BaseDecision::NoDane
        );
        // Secure CNAME chain: expanded name first, then the original.
        let secure = a_answer(
            "mx.example.com",
            Security::Secure,
            Some("host.provider.net"),
        );
        assert_eq!(
            tlsa_candidates(&host, &[&secure], None),
            c(&["host.provider.net", "mx.example.com"])
        );
        // Insecure chain: ask for the CNAME alone first ...
        let insecure = a_answer(
            "mx.example.com",
            Security::Insecure,
            Some("host.unsigned.net"),
        );
        assert_eq!(
            tlsa_candidates(&host, &[&insecure], None),
            BaseDecision::NeedCnameProbe
        );
        // ... a secure initial CNAME leaves the original name only ...
        let probe = cname_probe("mx.example.com", Security::Secure);
        assert_eq!(
            tlsa_candidates(&host, &[&insecure], Some(&probe)),
            c(&["mx.example.com"])
        );
        // ... an insecure one means no DANE, and a failed probe fails the host.
        let probe = cname_probe("mx.example.com", Security::Insecure);
        assert_eq!(
            tlsa_candidates(&host, &[&insecure], Some(&probe)),
            BaseDecision::NoDane
        );
        let failed: LookupResult = Err(LookupError::Timeout);
        assert_eq!(
            tlsa_candidates(&host, &[&insecure], Some(&failed)),
            BaseDecision::Failed(LookupError::Timeout)
        );
        // No address data at all: no DANE.
        let nodata = answer(
            "mx.example.com",
            RecordType::AAAA,
            Security::Insecure,
            RcodeClass::NoData,
            vec![],
        );
        assert_eq!(
            tlsa_candidates(&host, &[&nodata], None),
            BaseDecision::NoDane
        );
        let mixed = [
            a_answer("mx.example.com", Security::Secure, None),
            a_answer("mx.example.com", Security::Insecure, None),
        ];
        // Mixed A/AAAA status, in either order: one secure RRset means a TLSA lookup.
        assert_eq!(
            tlsa_candidates(&host, &[&mixed[0], &mixed[1]], None),
            c(&["mx.example.com"])
        );
        assert_eq!(
            tlsa_candidates(&host, &[&mixed[1], &mixed[0]], None),
            c(&["mx.example.com"])
        );
    }

    #[test]
    fn policy_table_of_rfc7672_section_2_2() {
        use HostPolicy::*;
        let usable = TlsaOutcome::Usable(TlsaSet::new(
            vec![TlsaRecord {
                usage: 3,
                selector: 1,
                matching: 1,
                data: vec![0; 32],
            }],
            &UsagePolicy::smtp(),
            &DigestPrefs::default(),
        ));
        let unusable = TlsaOutcome::AllUnusable(TlsaSet::new(
            vec![TlsaRecord {
                usage: 1,
                selector: 1,
                matching: 1,
                data: vec![0; 32],
            }],
            &UsagePolicy::smtp(),
            &DigestPrefs::default(),
        ));
        let failed = TlsaOutcome::Failed(LookupError::Timeout);
        let cases = [
            (&usable, true, InsecureMxPolicy::Dane, (Dane, false)),
            (&unusable, true, InsecureMxPolicy::Dane, (Encrypt, false)),
            (
                &TlsaOutcome::SecureAbsent,
                true,
                InsecureMxPolicy::Dane,
                (Opportunistic, false),
            ),
            (
                &TlsaOutcome::Insecure,
                true,
                InsecureMxPolicy::Dane,
                (Opportunistic, false),
            ),
            (&failed, true, InsecureMxPolicy::Dane, (Skip, false)),
            (&failed, false, InsecureMxPolicy::May, (Skip, false)),
            (&usable, false, InsecureMxPolicy::Dane, (Dane, true)),
            (&usable, false, InsecureMxPolicy::Encrypt, (Encrypt, false)),
            (
                &usable,
                false,
                InsecureMxPolicy::May,
                (Opportunistic, false),
            ),
            (&unusable, false, InsecureMxPolicy::Dane, (Encrypt, false)),
            (
                &unusable,
                false,
                InsecureMxPolicy::May,
                (Opportunistic, false),
            ),
        ];
        for (outcome, mx_secure, insecure_mx, expected) in cases {
            assert_eq!(
                decide_policy(outcome, mx_secure, insecure_mx),
                expected,
                "{outcome:?} {mx_secure} {insecure_mx:?}"
            );
        }
        assert!(
            TlsaOutcome::SecureAbsent.try_next_candidate()
                && TlsaOutcome::Insecure.try_next_candidate()
        );
        assert!(!failed.try_next_candidate() && !usable.try_next_candidate());
    }

    /// RFC 7672 sec. 3.2.2 (R40-R42).
    #[test]
    fn reference_identifiers_follow_section_3_2_2() {
        let base = name("mx.example.net");
        let secure = NextHop::SecureMx {
            original: name("exchange.example.org"),
            expanded: name("example.com"),
        };
        assert_eq!(
            reference_identifiers(&base, &base, &secure),
            ["mx.example.net", "exchange.example.org", "example.com"]
        );
        let same = NextHop::SecureMx {
            original: name("example.com"),
            expanded: name("example.com"),
        };
        assert_eq!(
            reference_identifiers(&base, &base, &same),
            ["mx.example.net", "example.com"]
        );
        assert_eq!(
            reference_identifiers(&base, &base, &NextHop::InsecureMx),
            ["mx.example.net"]
        );
        let expanded_base = name("host.provider.net");
        assert_eq!(
            reference_identifiers(&expanded_base, &base, &NextHop::InsecureMx),
            ["host.provider.net", "mx.example.net"]
        );
        let non_mx = NextHop::NonMx {
            original: name("relay.example.net"),
        };
        assert_eq!(
            reference_identifiers(&expanded_base, &base, &non_mx),
            ["host.provider.net", "relay.example.net"]
        );
    }

    #[test]
    fn sni_is_the_base_domain_for_dane_and_encrypt() {
        let (base, host) = (name("host.provider.net"), name("mx.example.com"));
        assert_eq!(
            sni_name(HostPolicy::Dane, Some(&base), &host, false, SniMode::Auto).as_deref(),
            Some("host.provider.net")
        );
        assert_eq!(
            sni_name(
                HostPolicy::Encrypt,
                Some(&base),
                &host,
                false,
                SniMode::Auto
            )
            .as_deref(),
            Some("host.provider.net")
        );
        assert_eq!(
            sni_name(HostPolicy::Opportunistic, None, &host, false, SniMode::Auto).as_deref(),
            Some("mx.example.com")
        );
        assert_eq!(
            sni_name(HostPolicy::Dane, Some(&base), &host, false, SniMode::None),
            None
        );
        assert_eq!(
            sni_name(HostPolicy::Opportunistic, None, &host, true, SniMode::Auto),
            None
        );
    }

    #[test]
    fn names_from_users_are_fqdn_lower_case_a_labels() {
        assert_eq!(
            parse_domain("Bücher.Example").unwrap().to_ascii(),
            "xn--bcher-kva.example."
        );
        assert!(parse_domain("").is_err() && parse_domain(".").is_err());
        assert_eq!(
            tlsa_query_name(587, &name("mx.example.com"))
                .unwrap()
                .to_ascii(),
            "_587._tcp.mx.example.com."
        );
    }
}
