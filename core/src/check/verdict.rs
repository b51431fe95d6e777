//! Verdicts per connection, per host and per domain (DESIGN.md section 5). Pure functions,
//! so the precedence table is tested exhaustively.

use crate::dane::names::NameMatch;
use crate::dane::{
    verify_pkix, verify_with_pkix, DaneFailure, DaneFailureKind, DaneOutcome, PkixFailure,
    PkixTrustStore, VerifyParams,
};
use crate::machine::NetError;
use crate::report::{
    AuthenticatedBy, ConnectionVerdict, DomainVerdict, FailedLookup, HostPolicy, HostVerdict,
    LocalStep, ProtocolFault, Reason,
};
use crate::smtp::route::TlsaOutcome;
use crate::smtp::session::{SessionEnd, SessionFailure, SessionOutcome, Stage};
use crate::tls::TlsFailureKind;

/// The reason a DANE verification failure gives (RFC 7672 sec. 3.2; RFC 8460 result types).
pub fn dane_failure_reason(outcome: &DaneOutcome) -> Option<Reason> {
    match outcome {
        DaneOutcome::Failed(failure) => Some(match failure.kind {
            DaneFailureKind::PkixInvalid(error) => Reason::PkixInvalid { error },
            _ => Reason::from_dane_failure(failure),
        }),
        DaneOutcome::Matched(_) => None,
    }
}

/// What the trust decision found on one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authentication {
    /// A usable TLSA record decided (RFC 7672 sec. 3.2; RFC 7673 sec. 4.2, PKIX-TA and
    /// PKIX-EE included).
    Dane(DaneOutcome),
    /// PKIX alone, for a host without usable TLSA records (RFC 7673 sec. 4.1): the name
    /// that matched, or why not.
    Pkix(Result<NameMatch, PkixFailure>),
}

impl Authentication {
    /// Whether the server was authenticated.
    pub fn is_success(&self) -> bool {
        match self {
            Authentication::Dane(d) => d.is_matched(),
            Authentication::Pkix(p) => p.is_ok(),
        }
    }

    /// How the server was authenticated, if it was.
    pub fn method(&self) -> Option<AuthenticatedBy> {
        match self {
            Authentication::Dane(DaneOutcome::Matched(m)) => Some(match m.record.usage {
                0 => AuthenticatedBy::PkixTa,
                1 => AuthenticatedBy::PkixEe,
                2 => AuthenticatedBy::DaneTa,
                _ => AuthenticatedBy::DaneEe,
            }),
            Authentication::Pkix(Ok(_)) => Some(AuthenticatedBy::Pkix),
            _ => None,
        }
    }

    /// The reference identifier that matched (none for DANE-EE, RFC 7673 sec. 4.2).
    pub fn name(&self) -> Option<&str> {
        match self {
            Authentication::Dane(DaneOutcome::Matched(m)) => m.peername.as_deref(),
            Authentication::Pkix(Ok(m)) => Some(&m.reference_id),
            _ => None,
        }
    }

    /// The DANE outcome, if a TLSA record decided.
    pub fn dane(&self) -> Option<&DaneOutcome> {
        match self {
            Authentication::Dane(d) => Some(d),
            Authentication::Pkix(_) => None,
        }
    }
}

/// The reason a PKIX failure gives (RFC 7673 sec. 4.1).
pub fn pkix_failure_reason(failure: &PkixFailure) -> Reason {
    match failure {
        PkixFailure::Invalid(error) => Reason::PkixInvalid { error: *error },
        PkixFailure::NameMismatch {
            reference_ids,
            presented,
        } => Reason::PkixNameMismatch {
            reference_ids: reference_ids.clone(),
            presented: presented.clone(),
        },
    }
}

/// The trust decision on a completed handshake (RFC 7672 sec. 2.2 (a), sec. 3.2; R38: with
/// a usable secure TLSA record the client MUST authenticate and MUST NOT deliver when
/// authentication fails). Returns whether to accept the server, and what authentication
/// found, for the report.
///
/// It fails closed: policy `dane` accepts only a matched TLSA record. A `dane` host
/// without a usable secure TLSA RRset in hand (which the policy step should never produce)
/// is refused with [`DaneFailureKind::NoUsableRecords`], never waved through as
/// unauthenticated TLS; so is a `skip` host, which should never have been connected to.
///
/// Without `pkix` (SMTP, RFC 7672) `encrypt` (sec. 2.2 (b)) and `opportunistic` hosts need
/// no authentication. With a PKIX trust store (SRV services, RFC 7673), usable records may
/// be of any usage ([`verify_with_pkix`]), and every other host must pass PKIX with
/// `params.reference_ids` (sec. 4.1), including one whose secure TLSA records are all
/// unusable: the draft sends every host with "zero usable TLSA certificate associations" to
/// sec. 4.1, and its TLS is mandatory (sec. 4: the TLSA response was secure).
pub fn trust_decision(
    policy: HostPolicy,
    tlsa: Option<&TlsaOutcome>,
    chain: &[Vec<u8>],
    params: &VerifyParams<'_>,
    pkix: Option<&PkixTrustStore>,
) -> (bool, Option<Authentication>) {
    // Fail closed: no usable secure TLSA RRset in hand, nothing may be trusted.
    let refuse = || {
        Some(Authentication::Dane(DaneOutcome::Failed(
            DaneFailure::before_records(DaneFailureKind::NoUsableRecords),
        )))
    };
    let outcome = match (policy, tlsa, pkix) {
        (HostPolicy::Dane, Some(TlsaOutcome::Usable(set)), None) => Some(Authentication::Dane(
            crate::dane::verify(chain, set, params),
        )),
        (HostPolicy::Dane, Some(TlsaOutcome::Usable(set)), Some(store)) => Some(
            Authentication::Dane(verify_with_pkix(chain, set, params, store)),
        ),
        (HostPolicy::Dane | HostPolicy::Skip, _, _) => refuse(),
        (HostPolicy::Encrypt | HostPolicy::Opportunistic, _, Some(store)) => Some(
            Authentication::Pkix(verify_pkix(chain, store, params.reference_ids, params.now)),
        ),
        (HostPolicy::Encrypt | HostPolicy::Opportunistic, _, None) => None,
    };
    let accepted = match &outcome {
        Some(o) => o.is_success(),
        None => matches!(policy, HostPolicy::Encrypt | HostPolicy::Opportunistic),
    };
    (accepted, outcome)
}

/// Whether a failure happened before the client could learn whether TLS is possible: the
/// server was then not tested (RFC 7672 sec. 2.2 decisions start at the EHLO reply).
fn before_tls_decision(failure: &SessionFailure) -> bool {
    match failure {
        SessionFailure::ConnectFailed(_)
        | SessionFailure::Aborted
        | SessionFailure::InvalidConfig(_) => true,
        SessionFailure::Timeout(stage)
        | SessionFailure::ClosedByPeer(stage)
        | SessionFailure::Rejected { stage, .. }
        | SessionFailure::Protocol { stage, .. }
        | SessionFailure::BadResponse { stage, .. } => {
            matches!(
                stage,
                Stage::Connect | Stage::Greeting | Stage::Ehlo | Stage::Helo | Stage::Capability
            )
        }
        _ => false,
    }
}

/// The reason a session failure gives.
pub fn session_failure_reason(failure: &SessionFailure) -> Reason {
    match failure {
        SessionFailure::ConnectFailed(NetError::LocalResources(error)) => Reason::LocalResources {
            during: LocalStep::Connection,
            error: error.clone(),
        },
        SessionFailure::ConnectFailed(e) => Reason::ConnectFailed { error: e.clone() },
        SessionFailure::Timeout(stage) => Reason::Timeout { stage: *stage },
        SessionFailure::Rejected { stage, reply } => Reason::SmtpRejected {
            stage: *stage,
            reply: reply.text(),
        },
        SessionFailure::StarttlsNotOffered => Reason::StarttlsNotOffered,
        SessionFailure::StarttlsRejected(reply) => Reason::StarttlsRejected {
            reply: reply.text(),
        },
        SessionFailure::PlaintextInjection => Reason::PlaintextInjection,
        SessionFailure::Tls(tls) => match tls.kind {
            TlsFailureKind::ClientUnsupported => Reason::ClientUnsupported {
                error: tls.error.clone(),
            },
            _ => Reason::HandshakeFailed {
                error: tls.error.clone(),
            },
        },
        // Only reached without the verification's outcome (which gives its own reason).
        SessionFailure::TrustRejected => Reason::TlsaMismatch {
            failure: DaneFailure::before_records(DaneFailureKind::NoMatch),
        },
        SessionFailure::ClosedByPeer(stage) => Reason::ProtocolError {
            fault: ProtocolFault::Closed { stage: *stage },
        },
        SessionFailure::Protocol { stage, error } => Reason::ProtocolError {
            fault: ProtocolFault::Reply {
                stage: *stage,
                error: error.clone(),
            },
        },
        SessionFailure::BadGreeting { protocol, error } => Reason::BadGreeting {
            protocol: *protocol,
            error: error.clone(),
        },
        SessionFailure::Preauth => Reason::Preauth,
        SessionFailure::StarttlsRefused { response, .. } => Reason::StarttlsRejected {
            reply: response.clone(),
        },
        SessionFailure::BadResponse {
            protocol,
            stage,
            error,
        } => Reason::ProtocolError {
            fault: ProtocolFault::Response {
                protocol: *protocol,
                stage: *stage,
                error: error.clone(),
            },
        },
        SessionFailure::Aborted => Reason::Aborted,
        SessionFailure::InvalidConfig(_) => Reason::ProtocolError {
            fault: ProtocolFault::InvalidConfig,
        },
    }
}

/// The verdict of one connection under `policy` (RFC 7672 sec. 2.2 (a)-(c), sec. 3.2;
/// RFC 7673 sec. 4).
///
/// `trusted_only` marks a host authenticated despite an insecure MX RRset (RFC 7672
/// sec. 2.2.1): a match is `trusted`, never `verified`. `auth` is what the trust decision on
/// `TlsEstablished` found. A failed DANE authentication is `dane-failed`; a failed PKIX
/// authentication (RFC 7673 sec. 4.1) is `untrusted` with the PKIX reason. A session that
/// fails after a successful authentication keeps its verdict, with the failure as reason.
pub fn connection_verdict(
    policy: HostPolicy,
    trusted_only: bool,
    outcome: &SessionOutcome,
    auth: Option<&Authentication>,
) -> (ConnectionVerdict, Option<Reason>) {
    let failure = match &outcome.end {
        SessionEnd::Completed => None,
        SessionEnd::Failed(f) => Some(f),
    };
    // Authentication decides first: a rejected chain is the failure whatever came after.
    match auth {
        Some(Authentication::Dane(dane @ DaneOutcome::Failed(_))) => {
            return (ConnectionVerdict::DaneFailed, dane_failure_reason(dane))
        }
        Some(Authentication::Pkix(Err(f))) => {
            return (ConnectionVerdict::Untrusted, Some(pkix_failure_reason(f)))
        }
        _ => {}
    }
    let authenticated = auth.is_some_and(Authentication::is_success);
    let reason = failure.map(session_failure_reason);
    if let Some(f) = failure {
        if before_tls_decision(f) {
            return (ConnectionVerdict::Unreachable, reason);
        }
        if matches!(f, SessionFailure::Tls(t) if t.kind == TlsFailureKind::ClientUnsupported) {
            return (ConnectionVerdict::ClientUnsupported, reason);
        }
        if outcome.tls.is_none() || !authenticated {
            return match policy {
                HostPolicy::Dane | HostPolicy::Encrypt => (ConnectionVerdict::DaneFailed, reason),
                // Opportunistic: an MTA would go on (or retry) in cleartext.
                _ if outcome.tls.is_some() => (ConnectionVerdict::Untrusted, reason),
                // With implicit TLS there is no cleartext to go on in (RFC 8314 sec. 3): the
                // server could not be used at all.
                _ if outcome.implicit_tls => (ConnectionVerdict::Unreachable, reason),
                _ => (ConnectionVerdict::Plaintext, reason),
            };
        }
    }
    match (outcome.tls.is_some(), authenticated) {
        (true, true) if trusted_only => (ConnectionVerdict::Trusted, reason),
        (true, true) => (ConnectionVerdict::Verified, reason),
        (true, false) => (ConnectionVerdict::Untrusted, None),
        (false, _) => match policy {
            // Cannot happen: the session fails without STARTTLS when TLS is required.
            HostPolicy::Dane | HostPolicy::Encrypt => (
                ConnectionVerdict::DaneFailed,
                Some(Reason::StarttlsNotOffered),
            ),
            _ => (
                ConnectionVerdict::Plaintext,
                (!outcome.starttls_offered).then_some(Reason::StarttlsNotOffered),
            ),
        },
    }
}

/// Whether a connection verdict counts as tested (DESIGN.md section 5).
pub fn is_tested(v: ConnectionVerdict) -> bool {
    !matches!(
        v,
        ConnectionVerdict::Unreachable | ConnectionVerdict::ClientUnsupported
    )
}

/// The host verdict: the worst tested connection (from worst: `dane-failed`, `plaintext`,
/// `untrusted`, `trusted`, `verified`), `untested` (or `client-unsupported`) when none was
/// tested, `dns-failed` for policy `skip`.
pub fn host_verdict(policy: HostPolicy, connections: &[ConnectionVerdict]) -> HostVerdict {
    if policy == HostPolicy::Skip {
        return HostVerdict::DnsFailed;
    }
    let rank = |v: &ConnectionVerdict| match v {
        ConnectionVerdict::DaneFailed => 5,
        ConnectionVerdict::Plaintext => 4,
        ConnectionVerdict::Untrusted => 3,
        ConnectionVerdict::Trusted => 2,
        ConnectionVerdict::Verified => 1,
        _ => 0,
    };
    match connections
        .iter()
        .copied()
        .filter(|v| is_tested(*v))
        .max_by_key(rank)
    {
        Some(ConnectionVerdict::DaneFailed) => HostVerdict::DaneFailed,
        Some(ConnectionVerdict::Plaintext) => HostVerdict::Plaintext,
        Some(ConnectionVerdict::Untrusted) => HostVerdict::Untrusted,
        Some(ConnectionVerdict::Trusted) => HostVerdict::Trusted,
        Some(ConnectionVerdict::Verified) => HostVerdict::Verified,
        _ if !connections.is_empty()
            && connections
                .iter()
                .all(|v| *v == ConnectionVerdict::ClientUnsupported) =>
        {
            HostVerdict::ClientUnsupported
        }
        _ => HostVerdict::Untested,
    }
}

/// One host as the domain verdict sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// The host policy.
    pub policy: HostPolicy,
    /// The host verdict.
    pub verdict: HostVerdict,
    /// The host reason.
    pub reason: Option<Reason>,
    /// For a `dns-failed` host, which lookup failed.
    pub failed_lookup: Option<FailedLookup>,
}

/// What the domain verdict depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainFacts {
    /// The domain does not exist.
    pub nxdomain: bool,
    /// The domain has a null MX.
    pub null_mx: bool,
    /// The MX lookup failed or the resolver does not validate.
    pub temp_fail: bool,
    /// The MX RRset (or its stand-in) is secure.
    pub mx_secure: bool,
    /// A lookup or connection could not start for want of local resources (issue 7): the
    /// check is incomplete, so only a DANE failure already found outranks `inconclusive`.
    pub local_failure: bool,
    /// Each host.
    pub hosts: Vec<HostFacts>,
}

/// Whether the host was skipped because its address lookups failed: an unreachable host,
/// never a DANE failure (RFC 7672 sec. 2.1.2: "delivery may proceed via other MX hosts").
pub fn skipped_for_addresses(h: &HostFacts) -> bool {
    h.verdict == HostVerdict::DnsFailed && h.failed_lookup == Some(FailedLookup::Address)
}

/// Whether a skipped host's DNS failure is a DANE failure of the domain (DESIGN.md
/// section 5): a lookup that locates TLSA records (the TLSA lookup itself, or the CNAME
/// probe that decides the TLSA base domain) answered SERVFAIL or bogus data, or timed out at
/// every resolver although the host's addresses answered (a server that drops TLSA queries,
/// SPEC-NOTES S75). RFC 7672 sec. 2.1.2 (R8) makes such a host unreachable: mail to it is
/// never delivered, so the domain cannot be reached securely through it. A malformed answer
/// or REFUSED from our own resolver (`dns-error`) is not blamed on the domain.
pub fn dns_failure_is_domains(h: &HostFacts) -> bool {
    h.verdict == HostVerdict::DnsFailed
        && matches!(
            h.failed_lookup,
            Some(FailedLookup::Tlsa | FailedLookup::CnameProbe)
        )
        && matches!(
            h.reason,
            Some(Reason::DnsServfail { .. } | Reason::DnsBogus { .. } | Reason::DnsTimeout { .. })
        )
}

fn host_is_tested(v: HostVerdict) -> bool {
    matches!(
        v,
        HostVerdict::Verified
            | HostVerdict::Trusted
            | HostVerdict::Untrusted
            | HostVerdict::Plaintext
            | HostVerdict::DaneFailed
    )
}

/// The domain verdict by the precedence of DESIGN.md section 5 (first rule that applies).
pub fn domain_verdict(facts: &DomainFacts) -> DomainVerdict {
    if facts.nxdomain {
        return DomainVerdict::Nxdomain;
    }
    if facts.null_mx {
        return DomainVerdict::NullMx;
    }
    if facts.temp_fail {
        return DomainVerdict::TempFail;
    }
    let hosts = &facts.hosts;
    let dane_failed = hosts
        .iter()
        .any(|h| h.verdict == HostVerdict::DaneFailed || dns_failure_is_domains(h));
    if facts.local_failure && !dane_failed {
        return DomainVerdict::Inconclusive;
    }
    // RFC 7672 sec. 2.1.2: no host reachable for want of addresses: delivery is delayed.
    if !hosts.is_empty() && hosts.iter().all(skipped_for_addresses) {
        return DomainVerdict::TempFail;
    }
    if dane_failed {
        return DomainVerdict::DaneFailed;
    }
    let tested: Vec<HostVerdict> = hosts
        .iter()
        .map(|h| h.verdict)
        .filter(|v| host_is_tested(*v))
        .collect();
    if tested.is_empty() {
        return DomainVerdict::Inconclusive;
    }
    // A host skipped for its addresses is unreachable, like one whose connections failed:
    // it is listed as a warning and does not decide between verified and partial.
    if facts.mx_secure
        && tested.iter().all(|v| *v == HostVerdict::Verified)
        && hosts
            .iter()
            .filter(|h| !skipped_for_addresses(h))
            .all(|h| h.policy == HostPolicy::Dane)
    {
        return DomainVerdict::DaneVerified;
    }
    if !facts.mx_secure && tested.iter().all(|v| *v == HostVerdict::Trusted) {
        return DomainVerdict::DaneTrusted;
    }
    if tested
        .iter()
        .any(|v| matches!(v, HostVerdict::Verified | HostVerdict::Trusted))
    {
        return DomainVerdict::DanePartial;
    }
    DomainVerdict::NoDane
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: [HostPolicy; 4] = [
        HostPolicy::Dane,
        HostPolicy::Encrypt,
        HostPolicy::Opportunistic,
        HostPolicy::Skip,
    ];
    const HOST_VERDICTS: [HostVerdict; 8] = [
        HostVerdict::Verified,
        HostVerdict::Trusted,
        HostVerdict::Untrusted,
        HostVerdict::Plaintext,
        HostVerdict::DaneFailed,
        HostVerdict::ClientUnsupported,
        HostVerdict::Untested,
        HostVerdict::DnsFailed,
    ];

    fn q() -> crate::report::DnsQuery {
        crate::report::DnsQuery {
            name: "q".into(),
            rtype: "TLSA".into(),
        }
    }

    fn reasons() -> Vec<Option<Reason>> {
        vec![
            None,
            Some(Reason::DnsServfail {
                query: q(),
                ede: Vec::new(),
            }),
            Some(Reason::DnsBogus {
                query: q(),
                ede: vec![crate::dns::ExtendedError {
                    code: 6,
                    text: String::new(),
                }],
                validation: None,
            }),
            Some(Reason::DnsTimeout { query: q() }),
            Some(Reason::DnsError {
                query: q(),
                error: crate::dns::LookupError::Rcode { rcode: 5 },
            }),
        ]
    }

    const LOOKUPS: [FailedLookup; 3] = [
        FailedLookup::Address,
        FailedLookup::Tlsa,
        FailedLookup::CnameProbe,
    ];

    /// Every host that the check can actually produce.
    fn host_states() -> Vec<HostFacts> {
        let mut out = Vec::new();
        for policy in POLICIES {
            for verdict in HOST_VERDICTS {
                if (policy == HostPolicy::Skip) != (verdict == HostVerdict::DnsFailed) {
                    continue;
                }
                if verdict != HostVerdict::DnsFailed {
                    out.push(HostFacts {
                        policy,
                        verdict,
                        reason: None,
                        failed_lookup: None,
                    });
                    continue;
                }
                for reason in reasons() {
                    for lookup in LOOKUPS {
                        out.push(HostFacts {
                            policy,
                            verdict,
                            reason: reason.clone(),
                            failed_lookup: Some(lookup),
                        });
                    }
                }
            }
        }
        out
    }

    /// The table of DESIGN.md section 5, restated rule by rule as independent predicates,
    /// checked over every domain of up to three hosts and every early outcome.
    #[test]
    fn precedence_table_exhaustive() {
        let states = host_states();
        let mut by_len: Vec<Vec<Vec<HostFacts>>> = vec![vec![vec![]]];
        for len in 1..=3 {
            let longer = by_len[len - 1]
                .iter()
                .flat_map(|l| {
                    states.iter().map(move |s| {
                        let mut l = l.clone();
                        l.push(s.clone());
                        l
                    })
                })
                .collect();
            by_len.push(longer);
        }
        let host_lists: Vec<_> = by_len.into_iter().flatten().collect();
        let mut counts = std::collections::BTreeMap::new();
        let mut cases = 0u64;
        for hosts in &host_lists {
            for early in 0..16u8 {
                for mx_secure in [false, true] {
                    let facts = DomainFacts {
                        nxdomain: early & 1 != 0,
                        null_mx: early & 2 != 0,
                        temp_fail: early & 4 != 0,
                        local_failure: early & 8 != 0,
                        mx_secure,
                        hosts: hosts.clone(),
                    };
                    let got = domain_verdict(&facts);
                    *counts.entry(got).or_insert(0u64) += 1;
                    cases += 1;
                    let verdicts: Vec<HostVerdict> = hosts.iter().map(|h| h.verdict).collect();
                    let tested: Vec<HostVerdict> = verdicts
                        .iter()
                        .copied()
                        .filter(|v| host_is_tested(*v))
                        .collect();
                    // The table of DESIGN.md section 5, row by row.
                    let address_skip = |h: &HostFacts| {
                        h.verdict == HostVerdict::DnsFailed
                            && h.failed_lookup == Some(FailedLookup::Address)
                    };
                    let all_address_skips = !hosts.is_empty() && hosts.iter().all(address_skip);
                    let failed = hosts.iter().any(|h| {
                        h.verdict == HostVerdict::DaneFailed
                            || (h.verdict == HostVerdict::DnsFailed
                                && h.failed_lookup != Some(FailedLookup::Address)
                                && matches!(
                                    h.reason,
                                    Some(Reason::DnsServfail { .. })
                                        | Some(Reason::DnsBogus { .. })
                                        | Some(Reason::DnsTimeout { .. })
                                ))
                    });
                    let expected = if facts.nxdomain {
                        DomainVerdict::Nxdomain
                    } else if facts.null_mx {
                        DomainVerdict::NullMx
                    } else if facts.temp_fail {
                        DomainVerdict::TempFail
                    } else if facts.local_failure && !failed {
                        DomainVerdict::Inconclusive
                    } else if all_address_skips {
                        DomainVerdict::TempFail
                    } else if failed {
                        DomainVerdict::DaneFailed
                    } else if tested.is_empty() {
                        DomainVerdict::Inconclusive
                    } else if mx_secure
                        && tested.iter().all(|v| *v == HostVerdict::Verified)
                        && hosts
                            .iter()
                            .all(|h| h.policy == HostPolicy::Dane || address_skip(h))
                    {
                        DomainVerdict::DaneVerified
                    } else if !mx_secure && tested.iter().all(|v| *v == HostVerdict::Trusted) {
                        DomainVerdict::DaneTrusted
                    } else if tested.contains(&HostVerdict::Verified)
                        || tested.contains(&HostVerdict::Trusted)
                    {
                        DomainVerdict::DanePartial
                    } else {
                        DomainVerdict::NoDane
                    };
                    assert_eq!(got, expected, "{facts:?}");
                    // Security invariants that hold whatever the table says:
                    if got == DomainVerdict::DaneVerified {
                        assert!(mx_secure && !verdicts.contains(&HostVerdict::DaneFailed));
                    }
                    if verdicts.contains(&HostVerdict::DaneFailed) {
                        assert!(matches!(
                            got,
                            DomainVerdict::DaneFailed
                                | DomainVerdict::Nxdomain
                                | DomainVerdict::NullMx
                                | DomainVerdict::TempFail
                        ));
                    }
                    // RFC 7672 sec. 2.1.2 (R8): a failed TLSA lookup is never a success.
                    if hosts.iter().any(|h| {
                        h.failed_lookup == Some(FailedLookup::Tlsa)
                            && matches!(h.reason, Some(Reason::DnsTimeout { .. }))
                    }) {
                        assert!(!matches!(
                            got,
                            DomainVerdict::DaneVerified
                                | DomainVerdict::DaneTrusted
                                | DomainVerdict::DanePartial
                                | DomainVerdict::NoDane
                                | DomainVerdict::Inconclusive
                        ));
                    }
                    // An incomplete check (issue 7) never claims success nor absence of DANE.
                    if facts.local_failure {
                        assert!(!matches!(
                            got,
                            DomainVerdict::DaneVerified
                                | DomainVerdict::DaneTrusted
                                | DomainVerdict::DanePartial
                                | DomainVerdict::NoDane
                        ));
                    }
                    // An address failure alone is never a DANE failure.
                    if hosts.iter().all(address_skip) && !hosts.is_empty() {
                        assert_ne!(got, DomainVerdict::DaneFailed);
                    }
                }
            }
        }
        // Every verdict is reachable.
        assert_eq!(counts.len(), 9, "{counts:?}");
        assert!(cases > 100_000, "{cases}");
    }

    /// One case per row of the table of DESIGN.md section 5, by name.
    #[test]
    fn skipped_host_rows() {
        let skip = |reason: Reason, lookup| HostFacts {
            policy: HostPolicy::Skip,
            verdict: HostVerdict::DnsFailed,
            reason: Some(reason),
            failed_lookup: Some(lookup),
        };
        let verified = HostFacts {
            policy: HostPolicy::Dane,
            verdict: HostVerdict::Verified,
            reason: None,
            failed_lookup: None,
        };
        let servfail = Reason::DnsServfail {
            query: q(),
            ede: Vec::new(),
        };
        let timeout = Reason::DnsTimeout { query: q() };
        let domain = |hosts: Vec<HostFacts>| {
            domain_verdict(&DomainFacts {
                mx_secure: true,
                hosts,
                ..DomainFacts::default()
            })
        };
        use FailedLookup as L;
        assert_eq!(
            domain(vec![skip(servfail.clone(), L::Address)]),
            DomainVerdict::TempFail
        );
        assert_eq!(
            domain(vec![
                skip(servfail.clone(), L::Address),
                skip(timeout.clone(), L::Address)
            ]),
            DomainVerdict::TempFail
        );
        assert_eq!(
            domain(vec![skip(servfail.clone(), L::Address), verified.clone()]),
            DomainVerdict::DaneVerified
        );
        assert_eq!(
            domain(vec![skip(servfail.clone(), L::Tlsa), verified.clone()]),
            DomainVerdict::DaneFailed
        );
        assert_eq!(
            domain(vec![skip(timeout.clone(), L::Tlsa)]),
            DomainVerdict::DaneFailed
        );
        assert_eq!(
            domain(vec![skip(timeout, L::CnameProbe)]),
            DomainVerdict::DaneFailed
        );
        assert_eq!(
            domain(vec![skip(servfail, L::CnameProbe), verified]),
            DomainVerdict::DaneFailed
        );
    }

    /// RFC 7672 sec. 3.2 (R38), fail closed: policy dane is accepted only on a match.
    #[test]
    fn trust_decision_fails_closed() {
        use crate::dane::{DigestPrefs, TlsaRecord, TlsaSet, UsagePolicy};
        use crate::time::Timestamp;
        let ids = vec!["mx.example.net".to_string()];
        let params = VerifyParams {
            reference_ids: &ids,
            now: Timestamp::from_unix_secs(1_800_000_000),
        };
        let chain = vec![vec![0x30, 0x03, 0x02, 0x01, 0x00]];
        let record = |usage, data: Vec<u8>| TlsaRecord {
            usage,
            selector: 1,
            matching: 1,
            data,
        };
        let set = |records| TlsaSet::new(records, &UsagePolicy::smtp(), &DigestPrefs::default());
        let usable = TlsaOutcome::Usable(set(vec![record(3, vec![0xab; 32])]));
        let unusable = TlsaOutcome::AllUnusable(set(vec![record(1, vec![0xab; 32])]));
        let failed = TlsaOutcome::Failed(crate::dns::LookupError::Timeout);
        let rejects = |policy, tlsa: Option<&TlsaOutcome>, chain: &[Vec<u8>]| {
            let (accepted, outcome) = trust_decision(policy, tlsa, chain, &params, None);
            !accepted && matches!(outcome, Some(Authentication::Dane(DaneOutcome::Failed(_))))
        };
        // A dane host with no usable records in hand, whatever the reason: refused.
        for tlsa in [
            None,
            Some(&unusable),
            Some(&failed),
            Some(&TlsaOutcome::SecureAbsent),
            Some(&TlsaOutcome::Insecure),
        ] {
            assert!(rejects(HostPolicy::Dane, tlsa, &chain), "{tlsa:?}");
        }
        // Usable records that do not match, an unparsable leaf, no certificate: refused.
        assert!(rejects(HostPolicy::Dane, Some(&usable), &chain));
        assert!(rejects(HostPolicy::Dane, Some(&usable), &[]));
        // A skip host is never trusted.
        assert!(rejects(HostPolicy::Skip, Some(&usable), &chain));
        // encrypt and opportunistic need no authentication.
        for policy in [HostPolicy::Encrypt, HostPolicy::Opportunistic] {
            assert_eq!(
                trust_decision(policy, Some(&unusable), &chain, &params, None),
                (true, None)
            );
        }
        // And the connection verdict of a refused dane host is dane-failed.
        let (_, outcome) = trust_decision(HostPolicy::Dane, None, &chain, &params, None);
        let session = SessionOutcome {
            greeting: None,
            ehlo: None,
            used_helo: false,
            starttls_offered: true,
            starttls_reply: None,
            tls: None,
            tls_ehlo: None,
            end: SessionEnd::Failed(SessionFailure::TrustRejected),
            implicit_tls: false,
            transaction: None,
        };
        assert_eq!(
            connection_verdict(HostPolicy::Dane, false, &session, outcome.as_ref()).0,
            ConnectionVerdict::DaneFailed
        );
    }

    #[test]
    fn host_worst_connection_wins() {
        use ConnectionVerdict as C;
        assert_eq!(
            host_verdict(HostPolicy::Dane, &[C::Verified, C::DaneFailed]),
            HostVerdict::DaneFailed
        );
        assert_eq!(
            host_verdict(HostPolicy::Dane, &[C::Verified, C::Unreachable]),
            HostVerdict::Verified
        );
        assert_eq!(
            host_verdict(HostPolicy::Opportunistic, &[C::Untrusted, C::Plaintext]),
            HostVerdict::Plaintext
        );
        assert_eq!(
            host_verdict(HostPolicy::Dane, &[C::Trusted, C::Verified]),
            HostVerdict::Trusted
        );
        assert_eq!(
            host_verdict(HostPolicy::Dane, &[C::Unreachable]),
            HostVerdict::Untested
        );
        assert_eq!(host_verdict(HostPolicy::Dane, &[]), HostVerdict::Untested);
        assert_eq!(
            host_verdict(
                HostPolicy::Dane,
                &[C::ClientUnsupported, C::ClientUnsupported]
            ),
            HostVerdict::ClientUnsupported
        );
        assert_eq!(
            host_verdict(HostPolicy::Dane, &[C::ClientUnsupported, C::Unreachable]),
            HostVerdict::Untested
        );
        assert_eq!(host_verdict(HostPolicy::Skip, &[]), HostVerdict::DnsFailed);
    }
}
