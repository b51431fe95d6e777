//! [`HostProbe`]: everything daneel does for one target host (an MX host, an SRV target, a
//! relay), as a sans-IO sub-machine that a check drives and routes inputs to, the way
//! quinn-proto's `Endpoint` routes datagrams to its `Connection`s.
//!
//! The probe goes through explicit states ([`ProbeState`]), in the order RFC 7672 sec. 2.2.2
//! prescribes:
//!
//! 1. [`ProbeState::Addresses`]: the A and AAAA lookups (per [`params::ProbeOptions::family`]);
//! 2. [`ProbeState::CnameProbe`]: only when the addresses came through an insecure CNAME
//!    chain, the separate CNAME query of RFC 7672 sec. 2.1.3;
//! 3. [`ProbeState::Tlsa`]: the TLSA lookup at each candidate base domain in turn (RFC 7672
//!    sec. 2.2.3), ending in the host policy (RFC 7672 sec. 2.2 (a)-(d), sec. 2.2.1, sec. 6);
//! 4. [`ProbeState::Connecting`]: one session per address (RFC 3207 STARTTLS), with the DANE
//!    trust decision on each completed handshake (RFC 7672 sec. 3.2);
//! 5. [`ProbeState::Done`]: every connection has ended; [`HostProbe::report`] gives the host
//!    report and verdict.
//!
//! The probe never starts a lookup or a connection itself. Inputs come in through `handle_*`
//! methods; what it wants done comes out of `poll_*` methods, which the owner drains after
//! every input:
//!
//! - [`HostProbe::poll_lookup`]: lookups to start (the owner does the DNS, including the
//!   choice of resolver, and hands each result back with [`HostProbe::handle_lookup`]);
//! - [`HostProbe::wants_connection`] and [`HostProbe::connect`]: connections to open, under an
//!   id the owner allocates (so it can bound parallelism across probes);
//! - [`HostProbe::poll_action`]: the I/O of one connection, after the trust decision it waits
//!   for is made;
//! - [`HostProbe::poll_note`]: log lines and warnings for the owner's report.

mod certificate;
mod connections;
mod describe;
mod lookups;
mod observe;
pub mod params;
mod report;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use hickory_proto::rr::{Name, RecordType};

use crate::dane::DaneOutcome;
use crate::dns::{Answer, LookupResult};
use crate::machine::ConnId;
use crate::report::{
    AddressSecurity, ConnectionReport, FailedLookup, HostPolicy, Reason, TlsaReport, Warning,
};
use crate::smtp::route::{display_name, MxTarget, TlsaOutcome};
use crate::smtp::session::SmtpSession;

pub use connections::ReadyConnection;
pub(crate) use describe::{describe_answer, lookup_reason};
pub use observe::{Observation, Observe, Observed};
pub use params::{
    LookupOrder, NamedBy, PkixTrustStore, ProbeOptions, ProbeParams, ReferenceIds, Service,
    SessionKind, TlsStart, TrustModel, Unsupported,
};
#[cfg(feature = "_internal_test_exports")] // for tests only
pub use report::HostOutcome;

/// Which of its lookups a result answers. The owner keeps it with the lookup it started for a
/// [`LookupRequest`] and hands it back to [`HostProbe::handle_lookup`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostLookup {
    /// The A lookup of the host name.
    A,
    /// The AAAA lookup of the host name.
    Aaaa,
    /// The separate CNAME query of RFC 7672 sec. 2.1.3.
    Cname,
    /// The TLSA lookup at `_<port>._tcp.<base>` (RFC 7672 sec. 2.2.3).
    Tlsa {
        /// The candidate TLSA base domain.
        base: Name,
    },
}

/// A lookup the probe wants started: `name`, `rtype`, class IN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupRequest {
    /// What it is for; give it back with the result.
    pub lookup: HostLookup,
    /// The name to ask.
    pub name: Name,
    /// The type to ask.
    pub rtype: RecordType,
}

/// Where a probe is (RFC 7672 sec. 2.2.2 order).
#[cfg(feature = "_internal_test_exports")] // for tests only
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeState {
    /// Waiting for the address answers.
    Addresses,
    /// Waiting for the separate CNAME query (RFC 7672 sec. 2.1.3).
    CnameProbe,
    /// Waiting for the TLSA answer at candidate base domain number `candidate` (0: the
    /// CNAME-expanded name when there is one, RFC 7672 sec. 2.2.2).
    Tlsa {
        /// Index of the candidate.
        candidate: usize,
    },
    /// The host policy is decided; connections are queued or in flight.
    Connecting,
    /// Nothing more to do: the policy is decided and every connection has ended (or the
    /// probe was aborted).
    Done,
}

/// A line for the owner's log or warnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A log line (Postfix-style, for people).
    Log(String),
    /// A warning for the report.
    Warning(Warning),
}

/// The state behind [`ProbeState`], with what each state needs.
#[derive(Clone, Debug)]
enum Stage {
    Addresses {
        a: Option<Box<LookupResult>>,
        aaaa: Option<Box<LookupResult>>,
    },
    CnameProbe {
        answers: Vec<Answer>,
    },
    Tlsa {
        candidates: Vec<Name>,
        candidate: usize,
    },
    Connecting,
    Done,
}

/// The TLSA lookup of the host's own name made beside the address lookups
/// ([`LookupOrder::Parallel`]).
#[derive(Clone, Debug)]
enum EarlyTlsa {
    /// Asked, not answered yet.
    Asked(Name),
    /// Answered.
    Answered(Name, Box<LookupResult>),
}

/// What the address lookups found, for the report.
#[derive(Clone, Debug, Default)]
struct Found {
    addresses: Vec<IpAddr>,
    address_security: AddressSecurity,
    expanded: Option<Name>,
    tlsa: Option<TlsaReport>,
}

/// The host policy and what it rests on (RFC 7672 sec. 2.2).
#[derive(Clone, Debug)]
struct Decision {
    policy: HostPolicy,
    /// Authenticated despite an insecure MX RRset: a match is `trusted` (RFC 7672 sec. 2.2.1).
    trusted_only: bool,
    reason: Option<Reason>,
    /// For a host skipped on a DNS failure, which lookup failed.
    failed_lookup: Option<FailedLookup>,
    /// The TLSA outcome of the last candidate asked.
    outcome: Option<TlsaOutcome>,
    /// The TLSA base domain, for `dane` and `encrypt` hosts.
    base: Option<Name>,
    reference_ids: Vec<String>,
}

/// Where one connection is.
#[derive(Clone, Debug)]
enum ConnEnd {
    /// Still running.
    Open,
    /// Ended, with its report.
    Reported(Box<ConnectionReport>),
    /// An observation connection ended (its finding is in the probe's observations).
    Observed,
    /// Aborted by the owner: closed, never reported.
    Aborted,
}

/// One connection of the probe.
struct Conn {
    addr: SocketAddr,
    /// The SNI asked for (RFC 6066 sec. 3).
    sni: Option<String>,
    /// For an observation connection, the index of its observation.
    observation: Option<usize>,
    session: connections::Session,
    auth: Option<crate::check::Authentication>,
    /// A failed authentication was waived (RFC 8689 sec. 4.1).
    waived: bool,
    end: ConnEnd,
}

/// What a delivery asked of the probe ([`HostProbe::hold_for_delivery`],
/// [`HostProbe::waive_authentication`]).
#[derive(Clone, Copy, Debug, Default)]
struct DeliveryMode {
    hold: bool,
    waive: bool,
}

/// The per-host sub-machine (see the module documentation).
pub struct HostProbe {
    target: MxTarget,
    params: ProbeParams,
    stage: Stage,
    found: Found,
    decision: Option<Decision>,
    early_tlsa: Option<EarlyTlsa>,
    to_connect: VecDeque<SocketAddr>,
    /// Observation connections to open, with the index of each observation.
    to_observe: VecDeque<(SocketAddr, usize)>,
    observations: observe::Observations,
    conns: BTreeMap<ConnId, Conn>,
    lookups: VecDeque<LookupRequest>,
    notes: VecDeque<Note>,
    delivery: DeliveryMode,
}

impl HostProbe {
    /// A probe of `target` with `params`. A name starts its address lookups (drain
    /// [`HostProbe::poll_lookup`]); an IP address never uses DANE (RFC 7672 sec. 2.2) and goes
    /// straight to its policy. Fails if `params` asks for what is not implemented yet.
    pub fn new(target: MxTarget, params: ProbeParams) -> Result<Self, Unsupported> {
        params.supported()?;
        let mut probe = HostProbe {
            target,
            params,
            stage: Stage::Addresses {
                a: None,
                aaaa: None,
            },
            found: Found::default(),
            decision: None,
            early_tlsa: None,
            to_connect: VecDeque::new(),
            to_observe: VecDeque::new(),
            observations: observe::Observations::Off,
            conns: BTreeMap::new(),
            lookups: VecDeque::new(),
            notes: VecDeque::new(),
            delivery: DeliveryMode::default(),
        };
        match probe.target.literal {
            Some(addr) => {
                probe.found.addresses = vec![addr];
                probe.decide(HostPolicy::Opportunistic, false, None);
            }
            None => probe.start_address_lookups(),
        }
        Ok(probe)
    }

    /// The host.
    #[cfg(feature = "_internal_test_exports")] // for tests only
    pub fn target(&self) -> &MxTarget {
        &self.target
    }

    /// The parameters.
    #[cfg(feature = "_internal_test_exports")] // for tests only
    pub fn params(&self) -> &ProbeParams {
        &self.params
    }

    /// The host name as shown in logs.
    pub fn label(&self) -> String {
        display_name(&self.target.name)
    }

    /// Where the probe is.
    #[cfg(feature = "_internal_test_exports")] // for tests only
    pub fn state(&self) -> ProbeState {
        match &self.stage {
            Stage::Addresses { .. } => ProbeState::Addresses,
            Stage::CnameProbe { .. } => ProbeState::CnameProbe,
            Stage::Tlsa { candidate, .. } => ProbeState::Tlsa {
                candidate: *candidate,
            },
            Stage::Connecting => ProbeState::Connecting,
            Stage::Done => ProbeState::Done,
        }
    }

    /// Whether the probe has nothing more to do.
    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// The host policy, once decided (RFC 7672 sec. 2.2).
    pub fn policy(&self) -> Option<HostPolicy> {
        self.decision.as_ref().map(|d| d.policy)
    }

    /// The next lookup to start. Drain after [`HostProbe::new`] and after every
    /// [`HostProbe::handle_lookup`].
    pub fn poll_lookup(&mut self) -> Option<LookupRequest> {
        self.lookups.pop_front()
    }

    /// The next log line or warning. Drain after every call that changes the probe.
    pub fn poll_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    fn note(&mut self, line: String) {
        self.notes.push_back(Note::Log(line));
    }

    fn warn(&mut self, warning: Warning) {
        self.notes.push_back(Note::Warning(warning));
    }

    fn request(&mut self, lookup: HostLookup, name: Name, rtype: RecordType) {
        self.lookups.push_back(LookupRequest {
            lookup,
            name,
            rtype,
        });
    }
}
