//! [`ProbeFleet`]: the [`HostProbe`]s of one check, the routing of connection inputs to them,
//! and the bound on connections in flight across all of them. The SMTP check (RFC 7672) and
//! the MUA check (RFC 7673) each own one and differ only in how they name the hosts and what
//! they make of the host reports.

use std::collections::{BTreeMap, VecDeque};

use crate::machine::{Action, ConnId, Input, UsageError};
use crate::probe::{HostProbe, LookupRequest, Note};
use crate::time::Timestamp;

/// The probes of one check, in the order they were added.
pub(crate) struct ProbeFleet {
    probes: Vec<HostProbe>,
    /// Which probe owns each connection, in connection order.
    routes: BTreeMap<ConnId, usize>,
    /// Probes with connections to open, in the order their policies were decided (a probe
    /// that queues observation handshakes later joins the back).
    ready: VecDeque<usize>,
    next_conn: u32,
    max_parallel: usize,
    /// Connect host by host in the order the probes were added (a delivery, RFC 5321
    /// sec. 5.1), instead of in the order their policies were decided.
    in_order: bool,
    lookups: VecDeque<(usize, LookupRequest)>,
    notes: VecDeque<Note>,
}

impl ProbeFleet {
    /// An empty fleet that keeps at most `max_parallel` connections open at once.
    pub(crate) fn new(max_parallel: usize) -> Self {
        ProbeFleet {
            probes: Vec::new(),
            routes: BTreeMap::new(),
            ready: VecDeque::new(),
            next_conn: 0,
            max_parallel,
            in_order: false,
            lookups: VecDeque::new(),
            notes: VecDeque::new(),
        }
    }

    /// Opens connections strictly in the order the probes were added: a later probe waits
    /// until every earlier one is done (a delivery tries MX hosts in preference order,
    /// RFC 5321 sec. 5.1).
    pub(crate) fn set_in_order(&mut self) {
        self.in_order = true;
    }

    /// The probes, to act on their held connections.
    pub(crate) fn probes_mut(&mut self) -> &mut [HostProbe] {
        &mut self.probes
    }

    /// Takes what probe `index` wants after its owner acted on it.
    pub(crate) fn refresh(&mut self, index: usize) {
        if index < self.probes.len() {
            self.collect(index);
        }
    }

    /// Adds `probe`; returns its index.
    pub(crate) fn add(&mut self, probe: HostProbe) -> usize {
        self.probes.push(probe);
        let index = self.probes.len() - 1;
        self.collect(index);
        index
    }

    /// The probes, in the order they were added.
    pub(crate) fn probes(&self) -> &[HostProbe] {
        &self.probes
    }

    /// Whether every probe is done.
    pub(crate) fn all_done(&self) -> bool {
        self.probes.iter().all(HostProbe::is_done)
    }

    /// A lookup a probe wants started, with the probe's index.
    pub(crate) fn poll_lookup(&mut self) -> Option<(usize, LookupRequest)> {
        self.lookups.pop_front()
    }

    /// A log line or warning of a probe.
    pub(crate) fn poll_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// Hands probe `index` the result of its lookup.
    pub(crate) fn handle_lookup(
        &mut self,
        index: usize,
        lookup: crate::probe::HostLookup,
        result: crate::dns::LookupResult,
    ) {
        if let Some(probe) = self.probes.get_mut(index) {
            probe.handle_lookup(lookup, result);
            self.collect(index);
        }
    }

    /// Routes a connection input to the probe that owns the connection.
    pub(crate) fn handle_conn_input(
        &mut self,
        now: Timestamp,
        conn: ConnId,
        input: &Input<'_>,
    ) -> Result<(), UsageError> {
        let index = *self
            .routes
            .get(&conn)
            .ok_or(UsageError::UnknownConn(conn))?;
        self.probes[index].handle_conn_input(now, input);
        Ok(())
    }

    /// Time passed for every probe.
    pub(crate) fn handle_timeout(&mut self, now: Timestamp) {
        for probe in &mut self.probes {
            probe.handle_timeout(now);
        }
    }

    /// The earliest deadline of any probe.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.probes
            .iter()
            .filter_map(HostProbe::next_deadline)
            .min()
    }

    /// Takes what probe `index` wants after a change: its notes, its lookups, and its place
    /// in the connection queue.
    fn collect(&mut self, index: usize) {
        let probe = &mut self.probes[index];
        while let Some(note) = probe.poll_note() {
            self.notes.push_back(note);
        }
        while let Some(request) = probe.poll_lookup() {
            self.lookups.push_back((index, request));
        }
        if probe.wants_connection() && !self.ready.contains(&index) {
            self.ready.push_back(index);
        }
    }

    /// Opens connections while there is room, for the probes in the order their policies
    /// were decided. Returns whether it opened any.
    pub(crate) fn start_connections(&mut self, now: Timestamp) -> bool {
        let active: usize = self.probes.iter().map(HostProbe::open_connections).sum();
        let mut room = self.max_parallel.saturating_sub(active);
        let mut opened = false;
        while room > 0 {
            let index = if self.in_order {
                match self.probes.iter().position(|p| !p.is_done()) {
                    Some(i) if self.probes[i].wants_connection() => i,
                    _ => break,
                }
            } else {
                match self.ready.front() {
                    Some(&index) => index,
                    None => break,
                }
            };
            let conn = ConnId(self.next_conn);
            if self.probes[index].connect(now, conn).is_none() {
                self.ready.retain(|i| *i != index);
                continue;
            }
            self.next_conn += 1;
            self.routes.insert(conn, index);
            self.collect(index);
            room -= 1;
            opened = true;
        }
        opened
    }

    /// Lets every connection make its decisions and queues its actions into `actions`, in
    /// connection order (the trust decisions happen here). Returns whether any came out.
    pub(crate) fn poll_connections(
        &mut self,
        now: Timestamp,
        actions: &mut VecDeque<Action>,
    ) -> bool {
        let mut any = false;
        let routes: Vec<(ConnId, usize)> = self.routes.iter().map(|(c, h)| (*c, *h)).collect();
        for (conn, index) in routes {
            while let Some(action) = self.probes[index].poll_action(now, conn) {
                actions.push_back(action);
                any = true;
            }
            self.collect(index);
        }
        any
    }

    /// Aborts every probe (the check is finishing early) and queues the actions that close
    /// what is still open.
    pub(crate) fn abort_all(&mut self, now: Timestamp, actions: &mut VecDeque<Action>) {
        for probe in &mut self.probes {
            probe.abort(now);
        }
        for (conn, index) in &self.routes {
            while let Some(action) = self.probes[*index].poll_action(now, *conn) {
                actions.push_back(action);
            }
        }
    }
}
