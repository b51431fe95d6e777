//! The resolvers of one check and which of them it may believe (RFC 7672 sec. 2.1.1,
//! DESIGN.md section 4).
//!
//! Every listed resolver is probed with a question whose answer must be secure (the root
//! DNSKEY, DO=1): a resolver that answers it without AD does not validate, and its "insecure"
//! would turn every bogus answer into a licence to downgrade. The check believes only the
//! resolvers that passed, and among them only the best tier: those on loopback when there are
//! any (an AD bit that crossed a network is weaker evidence, RFC 7672 sec. 2.1.1 and RFC 4035
//! sec. 4.9.3), the remote ones otherwise. Lookups go to the first resolver that could be in
//! that tier while the probes are out (`ResolverSet::speculative`); what it says is held
//! until every probe has answered, then used only if it is in the believed tier, so the report
//! does not depend on which answer came first.

use std::net::{IpAddr, SocketAddr};

use crate::machine::LocalFailure;
use crate::report::{ProbeDetail, ProbeResult, ResolverEntry};

/// Attempts of the probe of one resolver (it asks that resolver alone): a dead resolver costs
/// `attempt_timeout * 3` before the check goes on without it.
pub const PROBE_ATTEMPTS: u8 = 2;

/// Whether `ip` is on loopback: 127.0.0.0/8, `::1` and `::ffff:127.0.0.0/104`. A link-local
/// `fe80::` address is not (it crossed a link).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// What the probe of one resolver found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ProbeState {
    /// Not answered yet.
    Pending,
    /// The root DNSKEY came back secure (AD=1).
    Validating,
    /// It does not validate (no AD, or AD not asked for) but served the root DNSKEY with its
    /// RRSIG: usable when the core validates.
    ServesDnssec,
    /// It answered without AD (or with no data): the detail says what it said.
    NotValidating(ProbeDetail),
    /// No usable answer: timeout, SERVFAIL, refused (the detail says which).
    Unreachable(ProbeDetail),
    /// The probe could not be sent: this process ran out of file descriptors or memory
    /// (issue 7). Nothing is known about the resolver.
    NotSent(LocalFailure),
}

impl ProbeState {
    /// What a failed probe found; `None` while pending or when validating.
    fn detail(&self) -> Option<ProbeDetail> {
        match self {
            ProbeState::Pending | ProbeState::Validating | ProbeState::ServesDnssec => None,
            ProbeState::NotValidating(d) | ProbeState::Unreachable(d) => Some(d.clone()),
            ProbeState::NotSent(error) => Some(ProbeDetail::NotSent {
                error: error.clone(),
            }),
        }
    }
}

/// One configured resolver.
#[derive(Clone, Debug)]
struct Resolver {
    addr: SocketAddr,
    loopback: bool,
    probe: ProbeState,
}

/// The configured resolvers, their probes, and the tier the check believes.
#[derive(Clone, Debug)]
pub(super) struct ResolverSet {
    resolvers: Vec<Resolver>,
    /// Set once every probe has answered: the resolvers believed, in configured order.
    believed: Option<Vec<SocketAddr>>,
}

impl ResolverSet {
    /// The resolvers of `config`, duplicates removed, in configured order.
    pub(super) fn new(addrs: &[SocketAddr]) -> Self {
        let mut resolvers: Vec<Resolver> = Vec::new();
        for addr in addrs {
            if resolvers.iter().all(|r| r.addr != *addr) {
                resolvers.push(Resolver {
                    addr: *addr,
                    loopback: is_loopback(addr.ip()),
                    probe: ProbeState::Pending,
                });
            }
        }
        ResolverSet {
            resolvers,
            believed: None,
        }
    }

    /// The addresses to probe, in order.
    pub(super) fn addresses(&self) -> Vec<SocketAddr> {
        self.resolvers.iter().map(|r| r.addr).collect()
    }

    /// Where lookups go before the probes are in: the first resolver on loopback, or the first
    /// one. If it validates it is in the believed tier, so its answers need not be asked again.
    pub(super) fn speculative(&self) -> Option<SocketAddr> {
        self.resolvers
            .iter()
            .find(|r| r.loopback)
            .or(self.resolvers.first())
            .map(|r| r.addr)
    }

    /// Records the probe result of resolver `index`.
    pub(super) fn record(&mut self, index: usize, state: ProbeState) {
        if let Some(r) = self.resolvers.get_mut(index) {
            r.probe = state;
        }
    }

    /// The resolver at `index`.
    pub(super) fn address(&self, index: usize) -> Option<SocketAddr> {
        self.resolvers.get(index).map(|r| r.addr)
    }

    /// Whether every probe has answered.
    pub(super) fn all_probed(&self) -> bool {
        self.resolvers
            .iter()
            .all(|r| r.probe != ProbeState::Pending)
    }

    /// Decides the believed tier once every probe has answered: the validating resolvers on
    /// loopback if any, else every validating one. Empty when none validates.
    pub(super) fn decide(&mut self) -> Vec<SocketAddr> {
        self.decide_by(false)
    }

    /// Whether a resolver on loopback passed the validating-resolver probe (AD=1).
    pub(super) fn local_validator(&self) -> bool {
        self.resolvers
            .iter()
            .any(|r| r.loopback && r.probe == ProbeState::Validating)
    }

    /// For a check that believes AD bits: a resolver that serves DNSSEC data without
    /// validating is, for it, a resolver that does not validate (dropped, with why).
    pub(super) fn demote_serving(&mut self) {
        for r in &mut self.resolvers {
            if r.probe == ProbeState::ServesDnssec {
                r.probe = ProbeState::NotValidating(ProbeDetail::NoAdBit {
                    security: crate::dns::Security::Insecure,
                    rcode: crate::dns::RcodeClass::Data,
                });
            }
        }
    }

    /// [`ResolverSet::decide`] for a check that validates in the core: every resolver that
    /// serves DNSSEC data counts, validating or not; those on loopback are preferred.
    pub(super) fn decide_for_core_validation(&mut self) -> Vec<SocketAddr> {
        self.decide_by(true)
    }

    fn decide_by(&mut self, serving_counts: bool) -> Vec<SocketAddr> {
        let validating = |r: &&Resolver| {
            r.probe == ProbeState::Validating
                || (serving_counts && r.probe == ProbeState::ServesDnssec)
        };
        let local: Vec<SocketAddr> = self
            .resolvers
            .iter()
            .filter(validating)
            .filter(|r| r.loopback)
            .map(|r| r.addr)
            .collect();
        let believed = if local.is_empty() {
            self.resolvers
                .iter()
                .filter(validating)
                .map(|r| r.addr)
                .collect()
        } else {
            local
        };
        self.believed = Some(believed.clone());
        believed
    }

    /// The believed resolvers, once decided.
    pub(super) fn believed(&self) -> Option<&[SocketAddr]> {
        self.believed.as_deref()
    }

    /// Whether the probes are decided and at least one resolver is believed.
    pub(super) fn usable(&self) -> bool {
        self.believed.as_ref().is_some_and(|b| !b.is_empty())
    }

    /// Validating resolvers left out because a validating one on loopback is preferred.
    pub(super) fn unused_validating(&self) -> Vec<SocketAddr> {
        let believed = self.believed.as_deref().unwrap_or(&[]);
        self.resolvers
            .iter()
            .filter(|r| r.probe == ProbeState::Validating && !believed.contains(&r.addr))
            .map(|r| r.addr)
            .collect()
    }

    /// Each resolver that failed its probe, with why, in configured order.
    pub(super) fn dropped(&self) -> Vec<(SocketAddr, ProbeDetail)> {
        self.resolvers
            .iter()
            .filter_map(|r| Some((r.addr, r.probe.detail()?)))
            .collect()
    }

    /// The report entries of the resolvers dropped (see [`ResolverSet::dropped`]).
    pub(super) fn dropped_entries(&self) -> Vec<ResolverEntry> {
        self.entries()
            .into_iter()
            .filter(|e| e.detail.is_some())
            .collect()
    }

    /// The first probe that could not be sent for want of local resources, if any: the
    /// resolver and what ran out.
    pub(super) fn local_failure(&self) -> Option<(SocketAddr, LocalFailure)> {
        self.resolvers.iter().find_map(|r| match &r.probe {
            ProbeState::NotSent(e) => Some((r.addr, e.clone())),
            _ => None,
        })
    }

    /// The believed resolvers that are not on loopback.
    pub(super) fn believed_remote(&self) -> Vec<SocketAddr> {
        self.believed
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|a| !is_loopback(a.ip()))
            .copied()
            .collect()
    }

    /// The report entries (DESIGN.md section 6, `resolvers[]`).
    pub(super) fn entries(&self) -> Vec<ResolverEntry> {
        let believed = self.believed.as_deref().unwrap_or(&[]);
        self.resolvers
            .iter()
            .map(|r| {
                let probe = match &r.probe {
                    ProbeState::Pending | ProbeState::NotSent(_) => ProbeResult::NotProbed,
                    ProbeState::Validating => ProbeResult::Validating,
                    ProbeState::ServesDnssec => ProbeResult::ServesDnssec,
                    ProbeState::NotValidating(_) => ProbeResult::NotValidating,
                    ProbeState::Unreachable(_) => ProbeResult::Unreachable,
                };
                let detail = r.probe.detail();
                ResolverEntry {
                    address: r.addr.to_string(),
                    loopback: r.loopback,
                    probe,
                    detail,
                    used: believed.contains(&r.addr),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn no_ad() -> ProbeDetail {
        ProbeDetail::NoAdBit {
            security: crate::dns::Security::Insecure,
            rcode: crate::dns::RcodeClass::Data,
        }
    }

    #[test]
    fn loopback_is_127_8_and_v6_loopback_and_mapped() {
        for yes in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(yes.parse().unwrap()), "{yes}");
        }
        for no in ["10.0.0.1", "fe80::1", "::ffff:10.0.0.1", "0.0.0.0", "::"] {
            assert!(!is_loopback(no.parse().unwrap()), "{no}");
        }
    }

    #[test]
    fn loopback_tier_wins_and_order_is_kept() {
        let mut set = ResolverSet::new(&[
            addr("192.0.2.1:53"),
            addr("127.0.0.2:53"),
            addr("127.0.0.1:53"),
            addr("127.0.0.2:53"),
        ]);
        assert_eq!(set.addresses().len(), 3, "duplicates removed");
        assert_eq!(set.speculative(), Some(addr("127.0.0.2:53")));
        set.record(0, ProbeState::Validating);
        set.record(1, ProbeState::NotValidating(no_ad()));
        assert!(!set.all_probed());
        set.record(2, ProbeState::Validating);
        assert!(set.all_probed());
        assert_eq!(set.decide(), vec![addr("127.0.0.1:53")]);
        assert_eq!(set.unused_validating(), vec![addr("192.0.2.1:53")]);
        assert_eq!(set.dropped().len(), 1);
        let used: Vec<bool> = set.entries().iter().map(|e| e.used).collect();
        assert_eq!(used, vec![false, false, true]);
    }

    #[test]
    fn remote_tier_only_without_local_validators() {
        let mut set = ResolverSet::new(&[addr("127.0.0.53:53"), addr("192.0.2.1:53")]);
        set.record(0, ProbeState::NotValidating(no_ad()));
        set.record(1, ProbeState::Validating);
        assert_eq!(set.decide(), vec![addr("192.0.2.1:53")]);
        assert_eq!(set.believed_remote(), vec![addr("192.0.2.1:53")]);
        let mut none = ResolverSet::new(&[addr("127.0.0.53:53")]);
        none.record(
            0,
            ProbeState::Unreachable(ProbeDetail::Failed {
                error: crate::dns::LookupError::Timeout,
            }),
        );
        assert!(none.decide().is_empty());
        assert!(!none.usable());
    }
}
