//! The connections of a check: starting SMTP sessions within the parallelism bound, the
//! DANE trust decision on each completed handshake (RFC 7672 sec. 3.2), and the connection
//! reports.

use super::*;

/// Shortens long hex in log lines the way Postfix does (head...tail).
pub(super) fn abbreviate(text: &str) -> String {
    match text.rsplit_once(' ') {
        Some((head, data)) if data.len() > 24 => {
            format!("{head} {}...{}", &data[..8], &data[data.len() - 8..])
        }
        _ => text.to_string(),
    }
}

/// Postfix-style summary of a connection (`Verified TLS connection established to ...`).
pub(super) fn summary_line(label: &str, c: &ConnectionReport) -> String {
    let class = match c.verdict {
        ConnectionVerdict::Verified => "Verified TLS connection",
        ConnectionVerdict::Trusted => "Trusted TLS connection",
        ConnectionVerdict::Untrusted => "Untrusted TLS connection",
        ConnectionVerdict::Plaintext => "Plaintext connection",
        ConnectionVerdict::DaneFailed => "DANE FAILED",
        ConnectionVerdict::ClientUnsupported => "Not tested (client-unsupported)",
        ConnectionVerdict::Unreachable => "Not tested (unreachable)",
    };
    let tls = c
        .tls
        .as_ref()
        .map(|t| format!(": {} with cipher {}", t.version, t.cipher))
        .unwrap_or_default();
    let reason = c
        .reason
        .as_ref()
        .map(|r| format!(" [{r}]"))
        .unwrap_or_default();
    format!("{label}: {class}{tls}{reason}")
}

impl SmtpCheck {
    pub(super) fn start_connections(&mut self) {
        let dns_believed =
            matches!(self.destination, Destination::Literal { .. }) || self.resolvers.usable();
        if !dns_believed || self.early.is_some() {
            return;
        }
        let active = self.conns.values().filter(|c| c.report.is_none()).count();
        let mut room = self.config.max_parallel.saturating_sub(active);
        while room > 0 {
            let Some((h, addr)) = self.queue.pop_front() else {
                break;
            };
            room -= 1;
            let host = &self.hosts[h];
            let policy = host.policy.unwrap_or(HostPolicy::Opportunistic);
            let sni = sni_name(
                policy,
                host.base.as_ref(),
                &host.target.name,
                host.target.literal.is_some(),
                self.config.sni,
            );
            let conn = ConnId(self.next_conn);
            self.next_conn += 1;
            let tls = match policy {
                HostPolicy::Dane | HostPolicy::Encrypt => TlsRequirement::Required,
                _ => TlsRequirement::Opportunistic,
            };
            let label = format!("{}[{}]:{}", host.label(), addr.ip(), addr.port());
            self.note(format!(
                "{label}: connecting (policy {}, SNI {})",
                serde_json::to_value(policy)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                sni.as_deref().unwrap_or("none")
            ));
            let session = SmtpSession::new(
                conn,
                addr,
                SessionConfig {
                    ehlo_name: self.config.ehlo_name.clone(),
                    tls,
                    sni,
                    timeouts: self.timeouts,
                },
                self.now,
            );
            self.hosts[h].conns.push(conn);
            self.conns.insert(
                conn,
                Conn {
                    host: h,
                    addr,
                    session,
                    dane: None,
                    report: None,
                },
            );
        }
    }

    pub(super) fn conn_label(&self, c: &Conn) -> String {
        format!(
            "{}[{}]:{}",
            self.hosts[c.host].label(),
            c.addr.ip(),
            c.addr.port()
        )
    }

    /// Makes the trust decision for sessions that completed a handshake (RFC 7672 sec. 3.2),
    /// and turns finished sessions into connection reports.
    pub(super) fn service_sessions(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            if conn.report.is_some() {
                continue;
            }
            let label = self.conn_label(conn);
            let host = &self.hosts[conn.host];
            let policy = host.policy.unwrap_or(HostPolicy::Opportunistic);
            if let Some(info) = conn.session.awaiting_trust() {
                let (accepted, decision) = super::verdict::trust_decision(
                    policy,
                    host.outcome.as_ref(),
                    &info.chain,
                    &VerifyParams {
                        reference_ids: &host.reference_ids,
                        now: self.now,
                    },
                );
                let line = match &decision {
                    Some(DaneOutcome::Matched(m)) => format!(
                        "{label}: matched DANE {} at depth {}: {}{}",
                        if m.record.usage == 3 {
                            "EE certificate"
                        } else {
                            "TA certificate"
                        },
                        m.depth,
                        abbreviate(&m.record.to_text()),
                        m.peername
                            .as_ref()
                            .map(|p| format!(", peername {p}"))
                            .unwrap_or_default()
                    ),
                    Some(dane::DaneOutcome::Failed(f)) => {
                        format!("{label}: DANE authentication failed: {f}")
                    }
                    None => format!("{label}: TLS established, no authentication required"),
                };
                let now = self.now;
                let Some(conn) = self.conns.get_mut(&id) else {
                    continue;
                };
                conn.dane = decision;
                conn.session.trust_decided(now, accepted);
                self.note(line);
            }
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            let dialogue = conn.session.take_log();
            for (_, line) in dialogue {
                self.note(format!("{label}: {line}"));
            }
            let Some(conn) = self.conns.get(&id) else {
                continue;
            };
            if let Some(outcome) = conn.session.outcome() {
                let host = &self.hosts[conn.host];
                let policy = host.policy.unwrap_or(HostPolicy::Opportunistic);
                let (verdict, reason) =
                    connection_verdict(policy, host.trusted_only, outcome, conn.dane.as_ref());
                let matched = match &conn.dane {
                    Some(DaneOutcome::Matched(m)) => Some(MatchedReport {
                        record: m.record.to_text(),
                        depth: m.depth,
                        via: match m.via {
                            MatchVia::Chain => "chain",
                            MatchVia::TlsaCertificate => "tlsa-certificate",
                            MatchVia::TlsaPublicKey => "tlsa-public-key",
                        }
                        .into(),
                        peername: m.peername.clone(),
                    }),
                    _ => None,
                };
                let report = ConnectionReport {
                    address: conn.addr.to_string(),
                    starttls: outcome.starttls_offered,
                    tls: outcome.tls.as_ref().map(|t| TlsReport {
                        version: t.version.clone(),
                        cipher: t.cipher.clone(),
                        sni: t.sni.clone(),
                    }),
                    certificate: outcome
                        .tls
                        .as_ref()
                        .and_then(|t| certificate::summarize(&t.chain)),
                    verdict,
                    tlsrpt: reason
                        .as_ref()
                        .and_then(|r| r.tlsrpt_result_type())
                        .map(str::to_string),
                    reason,
                    matched,
                };
                let line = summary_line(&label, &report);
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.report = Some(report);
                }
                self.note(line);
            }
        }
    }
}
