//! The one loop every check runs ([`Machine`] for any [`CheckSteps`]): believed DNS results
//! go to the check's own steps, connection inputs to its probes, and the check ends when its
//! steps say everything is settled (or early, on an abort or a DNS trust failure). The SMTP
//! check (RFC 7672) and the MUA check (RFC 7673) differ only in their steps.

use std::collections::VecDeque;
use std::time::Duration;

use super::fleet::ProbeFleet;
use super::trusted_dns::{DnsEvent, TrustedDns};
use crate::dns::LookupResult;
use crate::machine::{Action, Input, Output, UsageError};
use crate::probe::{HostLookup, Note};
use crate::report::{DomainVerdict, LogLine, Reason, Report, Warning};
use crate::time::Timestamp;

/// What every check holds: the clock it was given, its DNS, its probes, what it has to say.
pub(crate) struct Engine<P> {
    /// When the check started.
    pub(crate) start: Timestamp,
    /// The latest time an input carried.
    pub(crate) now: Timestamp,
    /// The DNS, answering only with what believed resolvers said.
    pub(crate) dns: TrustedDns<P>,
    /// One probe per target host.
    pub(crate) probes: ProbeFleet,
    actions: VecDeque<Action>,
    /// The log, for people.
    pub(crate) log: Vec<LogLine>,
    /// Warnings for the report.
    pub(crate) warnings: Vec<Warning>,
    early: Option<(DomainVerdict, Option<Reason>)>,
    done: Option<Box<Report>>,
}

impl<P: Clone> Engine<P> {
    /// An engine started at `now` over `dns`, with at most `max_parallel` connections.
    pub(crate) fn new(now: Timestamp, dns: TrustedDns<P>, max_parallel: usize) -> Self {
        Engine {
            start: now,
            now,
            dns,
            probes: ProbeFleet::new(max_parallel),
            actions: VecDeque::new(),
            log: Vec::new(),
            warnings: Vec::new(),
            early: None,
            done: None,
        }
    }

    /// Adds a line to the log, stamped with the time since the start.
    pub(crate) fn note(&mut self, text: String) {
        let at_ms = self.now.saturating_since(self.start).as_millis() as u64;
        self.log.push(LogLine { at_ms, text });
    }

    /// Aborts every probe (a delivery with nothing left to deliver) and queues what closes
    /// their connections.
    pub(crate) fn abort_probes(&mut self) {
        let now = self.now;
        self.probes.abort_all(now, &mut self.actions);
    }

    /// Ends the check with `verdict` once the current input is handled (the first call wins).
    pub(crate) fn finish_early(&mut self, verdict: DomainVerdict, reason: Option<Reason>) {
        if self.early.is_none() {
            self.early = Some((verdict, reason));
        }
    }

    /// The early end, if one was decided.
    pub(crate) fn early(&self) -> Option<&(DomainVerdict, Option<Reason>)> {
        self.early.as_ref()
    }

    /// Takes what the probes want: their notes, and their lookups (started at once, in
    /// order, as `purpose(probe, lookup)`).
    pub(crate) fn take_probe_requests(&mut self, purpose: impl Fn(usize, HostLookup) -> P) {
        while let Some(note) = self.probes.poll_note() {
            match note {
                Note::Log(line) => self.note(line),
                Note::Warning(warning) => self.warnings.push(warning),
            }
        }
        while let Some((probe, request)) = self.probes.poll_lookup() {
            let now = self.now;
            self.dns.lookup(
                now,
                purpose(probe, request.lookup),
                &request.name,
                request.rtype,
            );
        }
    }

    fn take_dns_events(&mut self) {
        while let Some(event) = self.dns.poll_event() {
            match event {
                DnsEvent::Log(line) => self.note(line),
                DnsEvent::Warning(warning) => self.warnings.push(warning),
                DnsEvent::End(verdict, reason) => self.finish_early(verdict, Some(reason)),
            }
        }
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        self.dns
            .next_deadline()
            .into_iter()
            .chain(self.probes.next_deadline())
            .min()
    }
}

/// What a check adds to the [`Engine`]: what its own lookups mean, when it may connect, when
/// it is settled, and its report.
pub(crate) trait CheckSteps {
    /// What a lookup is for.
    type Purpose: Clone;
    /// The engine.
    fn engine(&mut self) -> &mut Engine<Self::Purpose>;
    /// The engine, read-only.
    fn engine_ref(&self) -> &Engine<Self::Purpose>;
    /// The purpose of a probe's lookup.
    fn probe_purpose(probe: usize, lookup: HostLookup) -> Self::Purpose;
    /// Acts on a believed result.
    fn dispatch(&mut self, purpose: Self::Purpose, result: LookupResult);
    /// Whether connections may be opened (the resolvers are decided, unless none is needed).
    fn may_connect(&self) -> bool {
        self.engine_ref().dns.usable()
    }
    /// Acts on the probes' connections after they made their decisions and before new ones
    /// open (a delivery starts its transactions here); returns whether it did anything.
    fn after_connections(&mut self) -> bool {
        false
    }
    /// Whether every lookup of the check's own has answered (the probes are checked apart).
    fn settled(&self) -> bool;
    /// The report, once everything is over.
    fn build_report(&mut self) -> Report;
}

/// Runs everything that can run now, then collects actions. Called after every input.
pub(crate) fn progress<C: CheckSteps>(check: &mut C) {
    loop {
        let mut moved = false;
        loop {
            let engine = check.engine();
            let now = engine.now;
            let Some((purpose, result)) = engine.dns.poll_result(now) else {
                break;
            };
            check.dispatch(purpose, result);
            check.engine().take_probe_requests(C::probe_purpose);
            moved = true;
        }
        check.engine().take_dns_events();
        let may_connect = check.may_connect() && check.engine_ref().early.is_none();
        let engine = check.engine();
        let now = engine.now;
        if may_connect && engine.probes.start_connections(now) {
            moved = true;
        }
        engine.take_probe_requests(C::probe_purpose);
        while let Some(action) = engine.dns.poll_action() {
            engine.actions.push_back(action);
        }
        if engine.probes.poll_connections(now, &mut engine.actions) {
            moved = true;
        }
        if check.after_connections() {
            moved = true;
        }
        let engine = check.engine();
        if may_connect && engine.probes.start_connections(now) {
            moved = true;
        }
        engine.take_probe_requests(C::probe_purpose);
        if !moved {
            break;
        }
    }
    maybe_finish(check);
}

fn maybe_finish<C: CheckSteps>(check: &mut C) {
    let settled = check.settled() && check.engine_ref().probes.all_done();
    let engine = check.engine();
    if engine.done.is_some() || (engine.early.is_none() && !settled) {
        return;
    }
    // Close whatever is still open (only on an early end or an abort): lookups end their
    // exchanges (the runtime frees their sockets), sessions abort.
    engine.dns.abandon_all();
    while let Some(action) = engine.dns.poll_action() {
        engine.actions.push_back(action);
    }
    let now = engine.now;
    engine.probes.abort_all(now, &mut engine.actions);
    let mut report = check.build_report();
    let engine = check.engine();
    engine.note(format!(
        "verdict {}: {}",
        report.verdict.as_str(),
        report
            .reason
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_else(|| report.verdict.explanation(report.kind).into())
    ));
    report.log = engine.log.clone();
    engine.done = Some(Box::new(report));
}

/// [`crate::machine::Machine::handle_input`] of any check.
pub(crate) fn handle_input<C: CheckSteps>(
    check: &mut C,
    now: Timestamp,
    input: Input<'_>,
) -> Result<(), UsageError> {
    let engine = check.engine();
    if engine.done.is_some() {
        return Err(UsageError::AfterDone);
    }
    engine.now = engine.now.max(now);
    let now = engine.now;
    match &input {
        Input::DnsAnswer { query, from, wire } => {
            engine.dns.handle_answer(now, *query, *from, wire)?
        }
        Input::DnsFailed { query, error } => engine.dns.handle_failed(now, *query, error)?,
        Input::ConnectQueued { conn }
        | Input::Connecting { conn }
        | Input::Connected { conn }
        | Input::ConnectFailed { conn, .. }
        | Input::Received { conn, .. }
        | Input::TlsEstablished { conn, .. }
        | Input::TlsFailed { conn, .. }
        | Input::Closed { conn } => engine.probes.handle_conn_input(now, *conn, &input)?,
        Input::Timeout => {
            engine.dns.handle_timeout(now);
            engine.probes.handle_timeout(now);
            progress(check);
            let engine = check.engine();
            if engine.done.is_none()
                && engine.actions.is_empty()
                && engine.next_deadline().is_none()
            {
                // Nothing can happen any more: never hang (DESIGN.md section 8).
                engine.warnings.push(Warning::Stalled);
                engine.finish_early(DomainVerdict::Inconclusive, None);
            }
        }
        Input::Abort => {
            engine.note("aborted".into());
            engine.finish_early(DomainVerdict::Inconclusive, Some(Reason::Aborted));
        }
    }
    progress(check);
    Ok(())
}

/// [`crate::machine::Machine::poll_output`] of any check.
pub(crate) fn poll_output<C: CheckSteps>(check: &mut C, now: Timestamp) -> Output {
    let engine = check.engine();
    engine.now = engine.now.max(now);
    if let Some(action) = engine.actions.pop_front() {
        return Output::Action(action);
    }
    if let Some(report) = &engine.done {
        return Output::Done(report.clone());
    }
    match engine.next_deadline() {
        Some(deadline) => Output::Timeout(deadline),
        // Nothing pending and not finished cannot happen; a far deadline keeps runtimes
        // from spinning if it ever did, and the next Timeout input finishes the check.
        None => Output::Timeout(engine.now.saturating_add(Duration::from_secs(1))),
    }
}
