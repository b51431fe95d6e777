//! Verdicts per connection, per host and per domain (DESIGN.md section 5). Pure functions,
//! so the precedence table is tested exhaustively.

use crate::dane::{DaneFailureKind, DaneOutcome};
use crate::report::{ConnectionVerdict, DomainVerdict, HostPolicy, HostVerdict, Reason};
use crate::smtp::session::{SessionEnd, SessionFailure, SessionOutcome, Stage};
use crate::tls::TlsFailureKind;

/// The reason a DANE verification failure gives (RFC 7672 sec. 3.2; RFC 8460 result types).
pub fn dane_failure_reason(outcome: &DaneOutcome) -> Option<Reason> {
    let DaneOutcome::Failed(failure) = outcome else {
        return None;
    };
    let detail = failure.to_string();
    Some(match failure.kind {
        DaneFailureKind::NameMismatch => Reason::NameMismatch { detail },
        DaneFailureKind::Expired | DaneFailureKind::NotYetValid => Reason::Expired { detail },
        _ => Reason::TlsaMismatch { detail },
    })
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
        | SessionFailure::Protocol { stage, .. } => {
            matches!(
                stage,
                Stage::Connect | Stage::Greeting | Stage::Ehlo | Stage::Helo
            )
        }
        _ => false,
    }
}

/// The reason a session failure gives.
pub fn session_failure_reason(failure: &SessionFailure) -> Reason {
    match failure {
        SessionFailure::ConnectFailed(e) => Reason::ConnectFailed {
            detail: e.to_string(),
        },
        SessionFailure::Timeout(stage) => Reason::Timeout {
            stage: stage.to_string(),
        },
        SessionFailure::Rejected { reply, .. } => Reason::SmtpRejected {
            reply: reply.text(),
        },
        SessionFailure::StarttlsNotOffered => Reason::StarttlsNotOffered,
        SessionFailure::StarttlsRejected(reply) => Reason::StarttlsRejected {
            reply: reply.text(),
        },
        SessionFailure::PlaintextInjection => Reason::PlaintextInjection,
        SessionFailure::Tls(tls) => match tls.kind {
            TlsFailureKind::ClientUnsupported => Reason::ClientUnsupported {
                detail: tls.detail.clone(),
            },
            _ => Reason::HandshakeFailed {
                detail: tls.detail.clone(),
            },
        },
        SessionFailure::TrustRejected => Reason::TlsaMismatch {
            detail: "authentication failed".into(),
        },
        SessionFailure::ClosedByPeer(stage) => Reason::ProtocolError {
            detail: format!("connection closed by the server during {stage}"),
        },
        SessionFailure::Protocol { stage, error } => Reason::ProtocolError {
            detail: format!("{stage}: {error}"),
        },
        SessionFailure::Aborted => Reason::Aborted,
        SessionFailure::InvalidConfig(detail) => Reason::ProtocolError {
            detail: format!("invalid session configuration: {detail}"),
        },
    }
}

/// The verdict of one connection under `policy` (RFC 7672 sec. 2.2 (a)-(c), sec. 3.2).
///
/// `trusted_only` marks a host authenticated despite an insecure MX RRset (RFC 7672
/// sec. 2.2.1): a match is `trusted`, never `verified`. `dane` is the verification made on
/// `TlsEstablished` for `dane` hosts.
pub fn connection_verdict(
    policy: HostPolicy,
    trusted_only: bool,
    outcome: &SessionOutcome,
    dane: Option<&DaneOutcome>,
) -> (ConnectionVerdict, Option<Reason>) {
    let failure = match &outcome.end {
        SessionEnd::Completed => None,
        SessionEnd::Failed(f) => Some(f),
    };
    // Authentication decides first: a rejected chain is the failure whatever came after.
    if let Some(dane @ DaneOutcome::Failed(_)) = dane {
        return (ConnectionVerdict::DaneFailed, dane_failure_reason(dane));
    }
    if let Some(f) = failure {
        let reason = session_failure_reason(f);
        if before_tls_decision(f) {
            return (ConnectionVerdict::Unreachable, Some(reason));
        }
        if matches!(f, SessionFailure::Tls(t) if t.kind == TlsFailureKind::ClientUnsupported) {
            return (ConnectionVerdict::ClientUnsupported, Some(reason));
        }
        // A failure after authentication (say the post-TLS EHLO timed out) does not undo it.
        if outcome.tls.is_none() || !matches!(dane, Some(DaneOutcome::Matched(_))) {
            return match policy {
                HostPolicy::Dane | HostPolicy::Encrypt => {
                    (ConnectionVerdict::DaneFailed, Some(reason))
                }
                // Opportunistic: an MTA would go on (or retry) in cleartext.
                _ if outcome.tls.is_some() => (ConnectionVerdict::Untrusted, Some(reason)),
                _ => (ConnectionVerdict::Plaintext, Some(reason)),
            };
        }
    }
    match (outcome.tls.is_some(), dane) {
        (true, Some(DaneOutcome::Matched(_))) if trusted_only => (ConnectionVerdict::Trusted, None),
        (true, Some(DaneOutcome::Matched(_))) => (ConnectionVerdict::Verified, None),
        (true, _) => (ConnectionVerdict::Untrusted, None),
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
    /// Each host's policy, verdict and reason.
    pub hosts: Vec<(HostPolicy, HostVerdict, Option<Reason>)>,
}

/// Whether a host's DNS failure is the domain's fault (SERVFAIL or bogus data) rather than,
/// say, a timeout on our side (DESIGN.md section 5).
fn dns_failure_is_domains(reason: Option<&Reason>) -> bool {
    matches!(
        reason,
        Some(Reason::DnsServfail { .. } | Reason::DnsBogus { .. })
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
    if hosts.iter().any(|(_, v, r)| {
        *v == HostVerdict::DaneFailed
            || (*v == HostVerdict::DnsFailed && dns_failure_is_domains(r.as_ref()))
    }) {
        return DomainVerdict::DaneFailed;
    }
    let tested: Vec<HostVerdict> = hosts
        .iter()
        .map(|(_, v, _)| *v)
        .filter(|v| host_is_tested(*v))
        .collect();
    if tested.is_empty() {
        return DomainVerdict::Inconclusive;
    }
    if facts.mx_secure
        && tested.iter().all(|v| *v == HostVerdict::Verified)
        && hosts.iter().all(|(p, _, _)| *p == HostPolicy::Dane)
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

    fn reasons() -> Vec<Option<Reason>> {
        vec![
            None,
            Some(Reason::DnsServfail {
                query: "q".into(),
                ede: String::new(),
            }),
            Some(Reason::DnsBogus {
                query: "q".into(),
                ede: "6".into(),
            }),
            Some(Reason::DnsTimeout { query: "q".into() }),
        ]
    }

    type HostState = (HostPolicy, HostVerdict, Option<Reason>);

    /// Every host as (policy, verdict, reason) that the check can actually produce.
    fn host_states() -> Vec<HostState> {
        let mut out = Vec::new();
        for p in POLICIES {
            for v in HOST_VERDICTS {
                if (p == HostPolicy::Skip) != (v == HostVerdict::DnsFailed) {
                    continue;
                }
                let rs = if v == HostVerdict::DnsFailed {
                    reasons()
                } else {
                    vec![None]
                };
                for r in rs {
                    out.push((p, v, r));
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
        let mut by_len: Vec<Vec<Vec<HostState>>> = vec![vec![vec![]]];
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
            for early in 0..8u8 {
                for mx_secure in [false, true] {
                    let facts = DomainFacts {
                        nxdomain: early & 1 != 0,
                        null_mx: early & 2 != 0,
                        temp_fail: early & 4 != 0,
                        mx_secure,
                        hosts: hosts.clone(),
                    };
                    let got = domain_verdict(&facts);
                    *counts.entry(got).or_insert(0u64) += 1;
                    cases += 1;
                    let verdicts: Vec<HostVerdict> = hosts.iter().map(|h| h.1).collect();
                    let tested: Vec<HostVerdict> = verdicts
                        .iter()
                        .copied()
                        .filter(|v| host_is_tested(*v))
                        .collect();
                    let failed = hosts.iter().any(|(_, v, r)| {
                        *v == HostVerdict::DaneFailed
                            || (*v == HostVerdict::DnsFailed
                                && matches!(
                                    r,
                                    Some(Reason::DnsServfail { .. })
                                        | Some(Reason::DnsBogus { .. })
                                ))
                    });
                    let expected = if facts.nxdomain {
                        DomainVerdict::Nxdomain
                    } else if facts.null_mx {
                        DomainVerdict::NullMx
                    } else if facts.temp_fail {
                        DomainVerdict::TempFail
                    } else if failed {
                        DomainVerdict::DaneFailed
                    } else if tested.is_empty() {
                        DomainVerdict::Inconclusive
                    } else if mx_secure
                        && tested.iter().all(|v| *v == HostVerdict::Verified)
                        && hosts.iter().all(|h| h.0 == HostPolicy::Dane)
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
                }
            }
        }
        // Every verdict is reachable.
        assert_eq!(counts.len(), 9, "{counts:?}");
        assert!(cases > 100_000, "{cases}");
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
