//! `HostProbe` on its own, through its public API: DNS results go in as `Answer` values, SMTP
//! replies and TLS events as `Input`s; the tests assert on what it polls (lookups,
//! connections, actions), on its state order (RFC 7672 sec. 2.2.2: addresses, then the CNAME
//! probe if needed, then TLSA, then connections) and on its host verdict.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use daneel_core::check::AddressFamily;
use daneel_core::dane::{DigestPrefs, TlsaRecord};
use daneel_core::dns::{Answer, LookupError, LookupResult, RcodeClass, Security};
use daneel_core::probe::{
    HostLookup, HostProbe, LookupOrder, LookupRequest, NamedBy, Note, PkixTrustStore, ProbeOptions,
    ProbeParams, ProbeState, ReferenceIds, Service, SessionKind, TlsStart, TrustModel, Unsupported,
};
use daneel_core::report::{
    ConnectionVerdict, DnsQuery, FailedLookup, HostPolicy, HostVerdict, LocalStep, Reason, Warning,
};
use daneel_core::smtp::route::{parse_domain, InsecureMxPolicy, MxTarget, NextHop, SniMode};
use daneel_core::smtp::session::SmtpTimeouts;
use daneel_core::tls::TlsInfo;
use daneel_core::{Action, ConnId, Input, LocalFailure, LocalResource, Timestamp};
use daneel_tests::world::certs::{self_signed, tlsa, Issued};
use hickory_proto::rr::rdata::{A, CNAME, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

const MX: &str = "mx.example.net";
const MX_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// Where the MX host name of the CNAME tests points.
const HOSTER: &str = "box.hoster.example";

fn name(s: &str) -> Name {
    parse_domain(s).unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_millis(1_767_225_600_000)
}

fn params() -> ProbeParams {
    ProbeParams {
        named_by: NamedBy {
            security: Security::Secure,
            if_insecure: InsecureMxPolicy::Dane,
        },
        reference_ids: ReferenceIds::Smtp {
            next_hop: NextHop::SecureMx {
                original: name("example.com"),
                expanded: name("example.com"),
            },
        },
        trust: TrustModel::DaneOnly,
        service: Service::smtp(25),
        order: LookupOrder::AddressesFirst,
        require_dane: false,
        options: ProbeOptions {
            family: AddressFamily::Any,
            sni: SniMode::Auto,
            ehlo_name: "client.example".into(),
            timeouts: SmtpTimeouts::uniform(Duration::from_secs(10)),
            digests: "sha512 sha256".parse::<DigestPrefs>().unwrap(),
            dns_only: false,
        },
    }
}

fn probe_of(host: &str, params: ProbeParams) -> HostProbe {
    HostProbe::new(
        MxTarget {
            preference: Some(10),
            name: name(host),
            literal: None,
        },
        params,
    )
    .unwrap()
}

fn lookups(p: &mut HostProbe) -> Vec<(HostLookup, String, RecordType)> {
    std::iter::from_fn(|| p.poll_lookup())
        .map(
            |LookupRequest {
                 lookup,
                 name,
                 rtype,
             }| (lookup, name.to_ascii(), rtype),
        )
        .collect()
}

fn notes(p: &mut HostProbe) -> Vec<Note> {
    std::iter::from_fn(|| p.poll_note()).collect()
}

/// An answer for `qname`/`qtype`, reached from `qname` through `cname` when given.
fn answer(
    qname: &str,
    qtype: RecordType,
    security: Security,
    data: Vec<RData>,
    cname: Option<&str>,
) -> LookupResult {
    let owner = name(cname.unwrap_or(qname));
    Ok(Answer {
        qname: name(qname),
        qtype,
        security,
        rcode: if data.is_empty() {
            RcodeClass::NoData
        } else {
            RcodeClass::Data
        },
        cnames: cname
            .map(|c| vec![(name(qname), name(c))])
            .unwrap_or_default(),
        final_name: owner.clone(),
        records: data
            .into_iter()
            .map(|d| Record::from_rdata(owner.clone(), 300, d))
            .collect(),
        ttl: Some(300),
        rrsig_expires: None,
        ede: Vec::new(),
        server: "127.0.0.1:53".parse().unwrap(),
        sections: Default::default(),
    })
}

fn a(host: &str, security: Security) -> LookupResult {
    answer(
        host,
        RecordType::A,
        security,
        vec![RData::A(A(MX_IP))],
        None,
    )
}

fn no_aaaa(host: &str, security: Security) -> LookupResult {
    answer(host, RecordType::AAAA, security, Vec::new(), None)
}

/// Feeds the A and AAAA answers of a host whose name is a CNAME to `HOSTER`.
fn addresses_via_cname(p: &mut HostProbe, security: Security) {
    let via = Some(HOSTER);
    p.handle_lookup(
        HostLookup::A,
        answer(MX, RecordType::A, security, vec![RData::A(A(MX_IP))], via),
    );
    p.handle_lookup(
        HostLookup::Aaaa,
        answer(MX, RecordType::AAAA, security, Vec::new(), via),
    );
}

/// Feeds a secure A answer and a secure NODATA AAAA answer.
fn secure_addresses(p: &mut HostProbe) {
    p.handle_lookup(HostLookup::A, a(MX, Security::Secure));
    p.handle_lookup(HostLookup::Aaaa, no_aaaa(MX, Security::Secure));
}

/// The one lookup of the TLSA RRset at `base` (port 25).
fn tlsa_request(base: &str) -> Vec<(HostLookup, String, RecordType)> {
    vec![(
        tlsa_lookup(base),
        format!("_25._tcp.{base}."),
        RecordType::TLSA,
    )]
}

fn tlsa_rdata(r: &TlsaRecord) -> RData {
    RData::TLSA(TLSA::new(
        r.usage.into(),
        r.selector.into(),
        r.matching.into(),
        r.data.clone(),
    ))
}

fn tlsa_answer(base: &str, records: &[TlsaRecord]) -> LookupResult {
    answer(
        &format!("_25._tcp.{base}"),
        RecordType::TLSA,
        Security::Secure,
        records.iter().map(tlsa_rdata).collect(),
        None,
    )
}

fn tlsa_lookup(base: &str) -> HostLookup {
    HostLookup::Tlsa { base: name(base) }
}

/// Feeds one input for `conn` and drains its actions.
fn feed(p: &mut HostProbe, input: Input<'_>, conn: ConnId) -> Vec<Action> {
    assert!(p.handle_conn_input(now(), &input));
    std::iter::from_fn(|| p.poll_action(now(), conn)).collect()
}

/// The one action of writing `bytes` on `conn`.
fn sent(conn: ConnId, bytes: &[u8]) -> Vec<Action> {
    vec![Action::Send {
        conn,
        bytes: bytes.to_vec(),
    }]
}

fn received(p: &mut HostProbe, conn: ConnId, bytes: &[u8]) -> Vec<Action> {
    feed(p, Input::Received { conn, bytes }, conn)
}

/// Runs the SMTP dialogue of `conn` up to the handshake, then presents `chain`. Returns the
/// actions that followed the handshake.
fn dialogue_until_tls(p: &mut HostProbe, conn: ConnId, chain: &Issued) -> Vec<Action> {
    let connect: Vec<Action> = std::iter::from_fn(|| p.poll_action(now(), conn)).collect();
    assert!(
        matches!(connect.as_slice(), [Action::Connect { conn: c, addr }] if *c == conn && *addr == SocketAddr::new(IpAddr::V4(MX_IP), 25)),
        "{connect:?}"
    );
    feed(p, Input::Connected { conn }, conn);
    let ehlo = received(p, conn, b"220 mx.example.net ESMTP\r\n");
    assert_eq!(ehlo, sent(conn, b"EHLO client.example\r\n"));
    let starttls = received(p, conn, b"250-mx.example.net\r\n250 STARTTLS\r\n");
    assert_eq!(starttls, sent(conn, b"STARTTLS\r\n"));
    let upgrade = received(p, conn, b"220 go ahead\r\n");
    assert_eq!(
        upgrade,
        vec![Action::StartTls {
            conn,
            sni: Some(MX.into())
        }]
    );
    feed(
        p,
        Input::TlsEstablished {
            conn,
            info: TlsInfo {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
                sni: Some(MX.into()),
                chain: vec![chain.der.to_vec()],
            },
        },
        conn,
    )
}

/// A probe of `MX` with the TLSA lookup beside the address lookups (RFC 7673 sec. 7).
fn parallel_probe() -> HostProbe {
    let mut params = params();
    params.order = LookupOrder::Parallel;
    probe_of(MX, params)
}

/// Walks a secure host to policy `dane` with a `3 1 1` record of `published`.
fn dane_host(published: &Issued) -> HostProbe {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    secure_addresses(&mut p);
    assert_eq!(lookups(&mut p), tlsa_request(MX));
    p.handle_lookup(
        tlsa_lookup(MX),
        tlsa_answer(MX, &[tlsa(3, 1, 1, published)]),
    );
    assert_eq!(p.state(), ProbeState::Connecting);
    assert_eq!(p.policy(), Some(HostPolicy::Dane));
    p
}

#[test]
fn states_follow_rfc7672_order_to_a_verified_host() {
    let cert = self_signed(&[MX]);
    let mut p = probe_of(MX, params());
    assert_eq!(p.state(), ProbeState::Addresses);
    // Addresses first, and nothing else: no TLSA query before the address answers (R22).
    assert_eq!(
        lookups(&mut p),
        vec![
            (HostLookup::A, "mx.example.net.".into(), RecordType::A),
            (HostLookup::Aaaa, "mx.example.net.".into(), RecordType::AAAA),
        ]
    );
    p.handle_lookup(HostLookup::Aaaa, no_aaaa(MX, Security::Secure));
    assert_eq!(p.state(), ProbeState::Addresses, "A still outstanding");
    assert!(lookups(&mut p).is_empty());
    p.handle_lookup(HostLookup::A, a(MX, Security::Secure));
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 0 });
    assert_eq!(lookups(&mut p), tlsa_request(MX));
    assert!(!p.wants_connection(), "no connection before the policy");
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    assert_eq!(p.state(), ProbeState::Connecting);
    assert!(p.wants_connection());
    assert_eq!(
        p.connect(now(), ConnId(7)),
        Some(SocketAddr::new(IpAddr::V4(MX_IP), 25))
    );
    assert!(!p.wants_connection(), "one address, one connection");
    assert_eq!(p.connect(now(), ConnId(8)), None);
    assert!(p.owns(ConnId(7)) && !p.owns(ConnId(8)));
    let after = dialogue_until_tls(&mut p, ConnId(7), &cert);
    // Matched: EHLO again over TLS (RFC 3207 sec. 4.2).
    assert_eq!(after, sent(ConnId(7), b"EHLO client.example\r\n"));
    let quit = received(&mut p, ConnId(7), b"250 mx.example.net\r\n");
    assert_eq!(quit, sent(ConnId(7), b"QUIT\r\n"));
    let close = received(&mut p, ConnId(7), b"221 bye\r\n");
    assert_eq!(close, vec![Action::Close { conn: ConnId(7) }]);
    assert_eq!(p.state(), ProbeState::Done);
    let outcome = p.report();
    assert_eq!(outcome.report.verdict, HostVerdict::Verified);
    assert_eq!(outcome.report.policy, HostPolicy::Dane);
    assert_eq!(
        outcome.report.reference_ids,
        vec!["mx.example.net", "example.com"]
    );
    assert_eq!(outcome.report.connections.len(), 1);
    assert_eq!(
        outcome.report.connections[0].verdict,
        ConnectionVerdict::Verified
    );
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert!(notes(&mut p)
        .iter()
        .any(|n| matches!(n, Note::Log(l) if l.contains("matched DANE EE certificate"))));
}

#[test]
fn a_mismatched_chain_is_refused_before_any_byte_over_tls() {
    let published = self_signed(&[MX]);
    let presented = self_signed(&[MX]);
    let mut p = dane_host(&published);
    assert!(p.connect(now(), ConnId(1)).is_some());
    let after = dialogue_until_tls(&mut p, ConnId(1), &presented);
    assert_eq!(after, vec![Action::Close { conn: ConnId(1) }]);
    assert_eq!(p.state(), ProbeState::Done);
    let outcome = p.report();
    assert_eq!(outcome.report.verdict, HostVerdict::DaneFailed);
    assert!(matches!(
        outcome.report.reason,
        Some(Reason::TlsaMismatch { .. })
    ));
    assert!(outcome.facts.verdict == HostVerdict::DaneFailed);
}

#[test]
fn insecure_addresses_mean_no_tlsa_lookup_and_opportunistic_tls() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    p.handle_lookup(HostLookup::A, a(MX, Security::Insecure));
    p.handle_lookup(HostLookup::Aaaa, no_aaaa(MX, Security::Insecure));
    assert!(lookups(&mut p).is_empty(), "RFC 7672 sec. 2.2.2: no TLSA");
    assert_eq!(p.state(), ProbeState::Connecting);
    assert_eq!(p.policy(), Some(HostPolicy::Opportunistic));
}

#[test]
fn an_insecure_cname_chain_takes_the_cname_probe_before_tlsa() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    addresses_via_cname(&mut p, Security::Insecure);
    assert_eq!(p.state(), ProbeState::CnameProbe);
    assert_eq!(
        lookups(&mut p),
        vec![(
            HostLookup::Cname,
            "mx.example.net.".into(),
            RecordType::CNAME
        )]
    );
    // A TLSA result out of order (for a base the probe never asked) changes nothing.
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[]));
    assert_eq!(p.state(), ProbeState::CnameProbe);
    // The CNAME itself is secure: the original name is the base domain (RFC 7672 sec. 2.1.3).
    p.handle_lookup(
        HostLookup::Cname,
        answer(
            MX,
            RecordType::CNAME,
            Security::Secure,
            vec![RData::CNAME(CNAME(name(HOSTER)))],
            None,
        ),
    );
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 0 });
    assert_eq!(lookups(&mut p), tlsa_request(MX));
}

#[test]
fn a_failed_cname_probe_skips_the_host_and_names_the_lookup() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    addresses_via_cname(&mut p, Security::Insecure);
    lookups(&mut p);
    p.handle_lookup(HostLookup::Cname, Err(LookupError::Timeout));
    assert_eq!(p.state(), ProbeState::Done);
    assert!(!p.wants_connection());
    let outcome = p.report();
    assert_eq!(outcome.report.policy, HostPolicy::Skip);
    assert_eq!(outcome.report.failed_lookup, Some(FailedLookup::CnameProbe));
    assert_eq!(outcome.report.verdict, HostVerdict::DnsFailed);
}

#[test]
fn a_secure_expansion_is_tried_before_the_original_name() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    addresses_via_cname(&mut p, Security::Secure);
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 0 });
    assert_eq!(lookups(&mut p), tlsa_request(HOSTER));
    // Secure and empty at the expansion: on to the original name (R27).
    p.handle_lookup(tlsa_lookup(HOSTER), tlsa_answer(HOSTER, &[]));
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 1 });
    assert_eq!(lookups(&mut p), tlsa_request(MX));
    // A failure there is final (R35): skipped, the TLSA lookup named.
    p.handle_lookup(
        tlsa_lookup(MX),
        Err(LookupError::ServFail {
            ede: Vec::new(),
            bogus: true,
        }),
    );
    assert_eq!(p.state(), ProbeState::Done);
    let outcome = p.report();
    assert_eq!(outcome.report.failed_lookup, Some(FailedLookup::Tlsa));
    assert!(matches!(
        outcome.report.reason,
        Some(Reason::DnsBogus { .. })
    ));
    assert_eq!(outcome.report.expanded_name.as_deref(), Some(HOSTER));
}

#[test]
fn no_addresses_is_untested_not_a_dns_failure() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    p.handle_lookup(
        HostLookup::A,
        answer(MX, RecordType::A, Security::Secure, vec![], None),
    );
    p.handle_lookup(HostLookup::Aaaa, no_aaaa(MX, Security::Secure));
    assert_eq!(p.state(), ProbeState::Done);
    let outcome = p.report();
    assert_eq!(outcome.report.verdict, HostVerdict::Untested);
    assert_eq!(outcome.report.reason, Some(Reason::NoAddresses));
}

#[test]
fn a_failed_address_lookup_of_one_family_uses_the_other_with_a_warning() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    p.handle_lookup(HostLookup::A, a(MX, Security::Secure));
    p.handle_lookup(HostLookup::Aaaa, Err(LookupError::Timeout));
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 0 });
    let expected = Warning::AddressFamilyFailed {
        host: MX.into(),
        reason: Box::new(Reason::DnsTimeout {
            query: DnsQuery {
                name: MX.into(),
                rtype: "AAAA".into(),
            },
        }),
    };
    assert!(notes(&mut p).contains(&Note::Warning(expected)));
}

/// Issue 7 (review): an address family whose lookup could not be sent for want of local
/// resources was never checked, so the host is not checked either, even though the other
/// family answered securely: the check reports itself incomplete instead of verified.
#[test]
fn a_family_not_looked_up_for_want_of_descriptors_leaves_the_host_unchecked() {
    let mut p = probe_of(MX, params());
    lookups(&mut p);
    p.handle_lookup(HostLookup::A, a(MX, Security::Secure));
    let emfile = LookupError::LocalResources {
        error: LocalFailure {
            resource: LocalResource::FileDescriptors,
            message: "Too many open files (os error 24)".into(),
        },
    };
    p.handle_lookup(HostLookup::Aaaa, Err(emfile));
    assert_eq!(p.state(), ProbeState::Done);
    assert!(!p.wants_connection());
    let outcome = p.report();
    assert_eq!(outcome.report.policy, HostPolicy::Skip);
    assert!(matches!(
        outcome.report.reason,
        Some(Reason::LocalResources {
            during: LocalStep::Lookup { ref query },
            error: LocalFailure {
                resource: LocalResource::FileDescriptors,
                ..
            },
        }) if query.rtype == "AAAA"
    ));
}

#[test]
fn mandatory_dane_never_connects_to_an_unauthenticated_host() {
    let mut params = params();
    params.require_dane = true;
    let mut p = probe_of(MX, params);
    lookups(&mut p);
    secure_addresses(&mut p);
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[]));
    assert_eq!(p.state(), ProbeState::Done);
    assert!(!p.wants_connection());
    let outcome = p.report();
    assert_eq!(outcome.report.policy, HostPolicy::Skip);
    assert_eq!(outcome.report.verdict, HostVerdict::DaneFailed);
    assert!(matches!(
        outcome.report.reason,
        Some(Reason::DaneRequired { .. })
    ));
}

#[test]
fn an_insecure_mx_with_policy_may_asks_no_tlsa() {
    let mut params = params();
    params.named_by = NamedBy {
        security: Security::Insecure,
        if_insecure: InsecureMxPolicy::May,
    };
    let mut p = probe_of(MX, params);
    lookups(&mut p);
    secure_addresses(&mut p);
    assert!(lookups(&mut p).is_empty());
    assert_eq!(p.policy(), Some(HostPolicy::Opportunistic));
}

#[test]
fn an_insecure_mx_makes_a_match_trusted_not_verified() {
    let cert = self_signed(&[MX]);
    let mut params = params();
    params.named_by.security = Security::Insecure;
    params.reference_ids = ReferenceIds::Smtp {
        next_hop: NextHop::InsecureMx,
    };
    let mut p = probe_of(MX, params);
    lookups(&mut p);
    secure_addresses(&mut p);
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    p.connect(now(), ConnId(0));
    dialogue_until_tls(&mut p, ConnId(0), &cert);
    received(&mut p, ConnId(0), b"250 mx.example.net\r\n");
    received(&mut p, ConnId(0), b"221 bye\r\n");
    assert_eq!(p.report().report.verdict, HostVerdict::Trusted);
}

#[test]
fn dns_only_decides_the_policy_and_opens_nothing() {
    let mut params = params();
    params.options.dns_only = true;
    let cert = self_signed(&[MX]);
    let mut p = probe_of(MX, params);
    lookups(&mut p);
    secure_addresses(&mut p);
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    assert_eq!(p.state(), ProbeState::Done);
    assert_eq!(p.policy(), Some(HostPolicy::Dane));
    assert!(!p.wants_connection());
}

#[test]
fn an_address_literal_goes_straight_to_an_opportunistic_connection() {
    let addr = IpAddr::V4(MX_IP);
    let mut p = HostProbe::new(
        MxTarget {
            preference: None,
            name: Name::root(),
            literal: Some(addr),
        },
        params(),
    )
    .unwrap();
    assert!(lookups(&mut p).is_empty());
    assert_eq!(p.state(), ProbeState::Connecting);
    assert_eq!(p.policy(), Some(HostPolicy::Opportunistic));
    assert_eq!(p.connect(now(), ConnId(3)), Some(SocketAddr::new(addr, 25)));
}

#[test]
fn ipv4_only_asks_no_aaaa() {
    let mut params = params();
    params.options.family = AddressFamily::V4;
    let mut p = probe_of(MX, params);
    assert_eq!(
        lookups(&mut p),
        vec![(HostLookup::A, "mx.example.net.".into(), RecordType::A)]
    );
    p.handle_lookup(HostLookup::A, a(MX, Security::Secure));
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 0 });
}

#[test]
fn abort_closes_open_connections_and_reports_none_of_them() {
    let cert = self_signed(&[MX]);
    let mut p = dane_host(&cert);
    p.connect(now(), ConnId(4));
    let _ = std::iter::from_fn(|| p.poll_action(now(), ConnId(4))).count();
    feed(&mut p, Input::Connected { conn: ConnId(4) }, ConnId(4));
    p.abort(now());
    assert_eq!(p.state(), ProbeState::Done);
    let closing: Vec<Action> = std::iter::from_fn(|| p.poll_action(now(), ConnId(4))).collect();
    assert_eq!(closing, vec![Action::Close { conn: ConnId(4) }]);
    assert!(p.report().report.connections.is_empty());
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn parallel_order_asks_tlsa_with_the_addresses_and_uses_it_when_they_are_secure() {
    let cert = self_signed(&[MX]);
    let mut p = parallel_probe();
    assert_eq!(
        lookups(&mut p),
        vec![
            (HostLookup::A, "mx.example.net.".into(), RecordType::A),
            (HostLookup::Aaaa, "mx.example.net.".into(), RecordType::AAAA),
            tlsa_request(MX).remove(0),
        ]
    );
    // The TLSA answer comes first: kept while the addresses are outstanding.
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    assert_eq!(p.state(), ProbeState::Addresses);
    secure_addresses(&mut p);
    assert!(lookups(&mut p).is_empty(), "not asked twice");
    assert_eq!(p.state(), ProbeState::Connecting);
    assert_eq!(p.policy(), Some(HostPolicy::Dane));
}

#[test]
fn parallel_order_waits_for_a_tlsa_answer_still_in_flight() {
    let cert = self_signed(&[MX]);
    let mut p = parallel_probe();
    lookups(&mut p);
    secure_addresses(&mut p);
    assert_eq!(p.state(), ProbeState::Tlsa { candidate: 0 });
    assert!(lookups(&mut p).is_empty(), "the early query is still out");
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    assert_eq!(p.policy(), Some(HostPolicy::Dane));
}

#[test]
fn parallel_order_ignores_the_tlsa_answer_of_insecure_addresses() {
    let cert = self_signed(&[MX]);
    let mut p = parallel_probe();
    lookups(&mut p);
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    p.handle_lookup(HostLookup::A, a(MX, Security::Insecure));
    p.handle_lookup(HostLookup::Aaaa, no_aaaa(MX, Security::Insecure));
    // RFC 7673 sec. 3.2: no secure address RRset, no TLSA: the early answer is ignored.
    assert_eq!(p.policy(), Some(HostPolicy::Opportunistic));
    assert!(p.report().report.tlsa.is_none());
}

#[test]
fn parallel_order_asks_a_secure_expansion_then_uses_the_early_answer_for_the_original() {
    let cert = self_signed(&[MX]);
    let mut p = parallel_probe();
    lookups(&mut p);
    p.handle_lookup(tlsa_lookup(MX), tlsa_answer(MX, &[tlsa(3, 1, 1, &cert)]));
    addresses_via_cname(&mut p, Security::Secure);
    assert_eq!(lookups(&mut p), tlsa_request(HOSTER));
    p.handle_lookup(tlsa_lookup(HOSTER), tlsa_answer(HOSTER, &[]));
    assert!(lookups(&mut p).is_empty());
    assert_eq!(p.policy(), Some(HostPolicy::Dane));
    assert_eq!(p.report().report.tlsa_base.as_deref(), Some(MX));
}

#[test]
fn what_is_not_implemented_is_refused_with_a_typed_reason() {
    let target = MxTarget {
        preference: None,
        name: name(MX),
        literal: None,
    };
    // SMTP relay has no implicit TLS; IMAP and POP3 STARTTLS (RFC 2595) exist since issue 10.
    for (kind, tls, supported) in [
        (SessionKind::Imap, TlsStart::StartTls, true),
        (SessionKind::Pop3, TlsStart::StartTls, true),
        (SessionKind::Smtp, TlsStart::Implicit, false),
    ] {
        let mut other = params();
        other.trust = TrustModel::DaneAndPkix {
            trust_store: PkixTrustStore::WebPkiRoots,
        };
        other.service = Service {
            port: 993,
            kind,
            tls,
        };
        assert_eq!(
            HostProbe::new(target.clone(), other).err(),
            (!supported).then_some(Unsupported::Session { kind, tls })
        );
    }
    let mut zero = params();
    zero.service.port = 0;
    assert_eq!(
        HostProbe::new(target, zero).err(),
        Some(Unsupported::PortZero)
    );
}

#[test]
fn srv_reference_identifiers_follow_rfc7673() {
    let srv = ReferenceIds::Srv {
        service_domain: name("example.com"),
    };
    let secure = NamedBy {
        security: Security::Secure,
        if_insecure: InsecureMxPolicy::May,
    };
    let insecure = NamedBy {
        security: Security::Insecure,
        ..secure
    };
    let base = name("imap.example.net");
    assert_eq!(
        srv.resolve(&base, &base, &secure),
        vec!["imap.example.net", "example.com"]
    );
    assert_eq!(srv.resolve(&base, &base, &insecure), vec!["example.com"]);
}

/// webpki-roots hold no root certificate in DER, so a usable `0 0 x` record can match a root
/// only with the roots given as certificates: the probe says so, typed, when the policy is
/// decided; a `0 1 x` record gets no such warning (the roots' keys are there).
#[test]
fn a_pkix_ta_full_certificate_record_under_webpki_roots_is_flagged() {
    let cert = self_signed(&[MX]);
    for (selector, flagged) in [(0, true), (1, false)] {
        let mut params = params();
        params.trust = TrustModel::DaneAndPkix {
            trust_store: PkixTrustStore::WebPkiRoots,
        };
        let mut p = probe_of(MX, params);
        lookups(&mut p);
        secure_addresses(&mut p);
        let record = tlsa(0, selector, 1, &cert);
        p.handle_lookup(
            tlsa_lookup(MX),
            tlsa_answer(MX, std::slice::from_ref(&record)),
        );
        assert_eq!(p.policy(), Some(HostPolicy::Dane));
        let typed: Vec<Note> = notes(&mut p)
            .into_iter()
            .filter(|n| matches!(n, Note::Warning(Warning::PkixTaNeedsRootCertificate { .. })))
            .collect();
        let want = Note::Warning(Warning::PkixTaNeedsRootCertificate {
            host: MX.into(),
            record: record.to_text(),
        });
        assert_eq!(typed, if flagged { vec![want] } else { vec![] });
    }
}
