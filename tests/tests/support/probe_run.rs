//! [`ProbeRun`]: one [`HostProbe`] as a whole [`Machine`], so a probe can be driven by the
//! simulation and by both runtimes against a world, with real DNS wire answers from the
//! world's resolver (through the core's [`DnsClient`]) and real TLS to its servers.
//!
//! It is the smallest owner a probe can have, what a check does for each of its hosts:
//! start the lookups the probe asks for and hand back their results, open its connections,
//! route connection inputs to it, and drain its actions. The report holds the one host; its
//! domain verdict is [`domain_verdict`] over that host alone, the MX status being the
//! probe's `named_by` (tests read the host and connection reports).
//!
//! It drives the core's internals (`probe`, the DNS client), which are public only with
//! daneel-core's `_internal_test_exports` feature, so it lives with the tests and not in the
//! published test kit.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use daneel_core::check::{domain_verdict, DomainFacts};
use daneel_core::dns::{DnsClient, DnsConfig, LookupId};
use daneel_core::probe::{HostLookup, HostProbe, Note, ProbeParams, Unsupported};
use daneel_core::report::LogLine;
use daneel_core::seed::DetRng;
use daneel_core::smtp::route::MxTarget;
use daneel_core::{
    Action, CheckKind, ConnId, Input, Machine, Output, Report, Seed, Timestamp, UsageError,
};

/// One probe driven as a machine (see the module documentation).
pub struct ProbeRun {
    dns: DnsClient,
    probe: HostProbe,
    lookups: BTreeMap<LookupId, HostLookup>,
    next_conn: u32,
    conns: Vec<ConnId>,
    actions: VecDeque<Action>,
    started: Timestamp,
    now: Timestamp,
    log: Vec<LogLine>,
    warnings: Vec<daneel_core::report::Warning>,
    report: Option<Report>,
}

impl ProbeRun {
    /// A probe of `target` with `params`, asking `resolver` for its lookups.
    pub fn new(
        target: MxTarget,
        params: ProbeParams,
        resolver: SocketAddr,
        now: Timestamp,
    ) -> Result<ProbeRun, Unsupported> {
        let mut run = ProbeRun {
            dns: DnsClient::new(DnsConfig::new(vec![resolver]), DetRng::new(Seed(7), 1)),
            probe: HostProbe::new(target, params)?,
            lookups: BTreeMap::new(),
            next_conn: 0,
            conns: Vec::new(),
            actions: VecDeque::new(),
            started: now,
            now,
            log: Vec::new(),
            warnings: Vec::new(),
            report: None,
        };
        run.pump();
        Ok(run)
    }

    /// Moves everything along until nothing changes: results to the probe, its lookups to
    /// the client, its connections opened, every action queued.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some((id, result)) = self.dns.poll_result() {
                if let Some(lookup) = self.lookups.remove(&id) {
                    self.probe.handle_lookup(lookup, result);
                }
                moved = true;
            }
            while let Some(request) = self.probe.poll_lookup() {
                let id = self.dns.lookup(self.now, &request.name, request.rtype);
                self.lookups.insert(id, request.lookup);
                moved = true;
            }
            while self.probe.wants_connection() {
                let conn = ConnId(self.next_conn);
                if self.probe.connect(self.now, conn).is_some() {
                    self.next_conn += 1;
                    self.conns.push(conn);
                }
                moved = true;
            }
            for conn in self.conns.clone() {
                while let Some(action) = self.probe.poll_action(self.now, conn) {
                    self.actions.push_back(action);
                    moved = true;
                }
            }
            while let Some(action) = self.dns.poll_action() {
                self.actions.push_back(action);
                moved = true;
            }
            while let Some(note) = self.probe.poll_note() {
                let at_ms = self.now.saturating_since(self.started).as_millis() as u64;
                match note {
                    Note::Log(text) => self.log.push(LogLine { at_ms, text }),
                    Note::Warning(warning) => self.warnings.push(warning),
                }
            }
            if !moved {
                break;
            }
        }
        if self.report.is_none() && self.probe.is_done() && self.lookups.is_empty() {
            self.report = Some(self.build_report());
        }
    }

    fn build_report(&mut self) -> Report {
        let outcome = self.probe.report();
        self.warnings.extend(outcome.warnings);
        let verdict = domain_verdict(&DomainFacts {
            mx_secure: self.probe.params().named_by.is_secure(),
            hosts: vec![outcome.facts],
            ..DomainFacts::default()
        });
        // Report is #[non_exhaustive]: the core's one constructor, then the fields.
        let mut report = Report::abandoned(self.started);
        report.kind = CheckKind::Smtp;
        report.domain = outcome.report.name.clone();
        report.verdict = verdict;
        report.reason = None;
        report.resolver.addresses = self
            .dns
            .config()
            .servers
            .iter()
            .map(|s| s.to_string())
            .collect();
        report.resolver.validating = true;
        report.hosts = vec![outcome.report];
        report.warnings = self.warnings.clone();
        report.log = std::mem::take(&mut self.log);
        report
    }
}

impl Machine for ProbeRun {
    fn handle_input(&mut self, now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        if self.report.is_some() {
            return Err(UsageError::AfterDone);
        }
        self.now = self.now.max(now);
        match &input {
            Input::DnsAnswer { query, from, wire } => {
                self.dns.handle_answer(self.now, *query, *from, wire)?
            }
            Input::DnsFailed { query, error } => self.dns.handle_failed(self.now, *query, error)?,
            Input::Timeout => {
                self.dns.handle_timeout(self.now);
                self.probe.handle_timeout(self.now);
            }
            Input::Abort => self.probe.abort(self.now),
            conn_input => {
                if !self.probe.handle_conn_input(self.now, conn_input) {
                    return Err(UsageError::InvalidConfig(format!(
                        "input for no connection of the probe: {conn_input:?}"
                    )));
                }
            }
        }
        self.pump();
        Ok(())
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        self.now = self.now.max(now);
        if let Some(action) = self.actions.pop_front() {
            return Output::Action(action);
        }
        if let Some(report) = &self.report {
            return Output::Done(Box::new(report.clone()));
        }
        let deadline = [self.dns.next_deadline(), self.probe.next_deadline()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.now);
        Output::Timeout(deadline)
    }
}
