//! What a delivery does with each connection of its SMTP check: at the pause before the
//! transaction, the requirements (RFC 8689 sec. 4.2.1) and the transaction for the pending
//! recipients ([`Delivery::decide`]); at its end, each recipient's fate from the replies,
//! or the connection's failure as the deferral reason ([`Delivery::ended`]); and, when no
//! host is left, the end state of those still pending ([`Delivery::settle`]).

use super::*;

impl Delivery {
    /// A held connection is ready: check the requirements, then start the transaction for
    /// the pending recipients, or refuse it (the session QUITs).
    pub(super) fn decide(&mut self, host: String, r: &ReadyConnection) -> Option<Transaction> {
        let now = self.check.engine_ref().now;
        let tls = r.tls.as_ref().map(|t| TlsReport {
            version: t.version.clone(),
            cipher: t.cipher.clone(),
            sni: t.sni.clone(),
        });
        let mut attempt = Attempt {
            conn: r.conn,
            host: host.clone(),
            address: r.addr.to_string(),
            verdict: r.verdict,
            reason: r.reason.clone(),
            waived: r.waived,
            tls,
            refused: None,
            received: None,
            transmitted: None,
            transaction: None,
        };
        let dane = dane_detail(r.verdict, r.reason.as_ref());
        let pending = self.pending();
        let mut unfit = None;
        let mut tx = None;
        if pending.is_empty() {
            attempt.refused = Some("no recipient left".into());
        } else if self.config.requiretls && r.verdict != ConnectionVerdict::Verified {
            unfit = Some(Unfit::NoRequireTls);
            attempt.refused = Some(format!(
                "REQUIRETLS: the connection is {}, not DANE-authenticated with a secure MX RRset (RFC 8689 sec. 4.2.1 step 4)",
                dane
            ));
        } else {
            let mut message = self.message.wire().clone();
            let received = trace::received_trace(r.tls.as_ref(), message.smtputf8);
            if self.config.trace {
                let field = trace::Transmitted {
                    from: &self.config.check.ehlo_name,
                    by: &host,
                    checked: matches!(
                        r.verdict,
                        ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                    )
                    .then_some(r.tls.as_ref().and_then(|t| t.sni.as_deref()))
                    .flatten(),
                    with: &received.with,
                    tlsa: matches!(
                        r.verdict,
                        ConnectionVerdict::Verified | ConnectionVerdict::Trusted
                    ),
                    tls: r.tls.as_ref(),
                    date: now,
                }
                .field();
                let mut bytes = Vec::with_capacity(field.len() + message.bytes.len());
                bytes.extend_from_slice(field.as_bytes());
                bytes.extend_from_slice(&message.bytes);
                message.bytes = std::sync::Arc::new(bytes);
                attempt.transmitted = Some(field.trim_end().to_string());
            }
            let spec = TransactionSpec {
                from: self.config.from.clone(),
                recipients: pending
                    .iter()
                    .map(|i| (*i, self.config.recipients[*i].clone()))
                    .collect(),
                message,
                requiretls: self.config.requiretls,
            };
            match Transaction::new(spec, &r.ehlo) {
                Ok(t) => {
                    attempt.received = Some(received);
                    tx = Some(t);
                }
                Err(e) => {
                    attempt.refused = Some(e.to_string());
                    unfit = Some(e);
                }
            }
        }
        match &unfit {
            Some(Unfit::NoRequireTls) => {
                let why = attempt.refused.clone().unwrap_or_default();
                self.requiretls_unmet = Some(why.clone());
                for i in &pending {
                    self.defer(
                        *i,
                        Deferral {
                            status: "5.7.30".into(),
                            diagnostic: why.clone(),
                            from_server: false,
                            host: Some(host.clone()),
                            retry_after: RETRY_DANE_SECS,
                            dane: Some(dane.clone()),
                        },
                    );
                }
            }
            // A host that cannot take the message at all (over its SIZE, no 8BITMIME or
            // SMTPUTF8 where the message needs them) bounces the pending recipients, as
            // Postfix does for SIZE (RFC 1870 sec. 6.1): other MX hosts of the domain are
            // expected to share the limit, and daneel does not downgrade 8-bit content.
            Some(other) => {
                for i in &pending {
                    self.set_final(
                        *i,
                        RecipientState::Bounced,
                        Deferral {
                            status: other.status().into(),
                            diagnostic: other.to_string(),
                            from_server: false,
                            host: Some(host.clone()),
                            retry_after: 0,
                            dane: Some(dane.clone()),
                        },
                    );
                }
            }
            None => {}
        }
        let line = match (&tx, &attempt.refused) {
            (Some(_), _) => format!(
                "{host}[{}]: starting the transaction for {} recipient(s)",
                r.addr,
                pending.len()
            ),
            (None, Some(why)) => format!("{host}[{}]: no transaction: {why}", r.addr),
            (None, None) => format!("{host}[{}]: no transaction", r.addr),
        };
        self.check.engine().note(line);
        self.attempts.push(attempt);
        self.live.insert(r.conn, self.attempts.len() - 1);
        tx
    }

    /// A connection ended: its transaction decides its recipients; without one, the
    /// pending recipients keep its failure as their deferral reason.
    pub(super) fn ended(
        &mut self,
        host: String,
        conn: ConnId,
        report: &ConnectionReport,
        tx: Option<&TransactionOutcome>,
    ) {
        let index = match self.live.remove(&conn) {
            Some(i) => i,
            None => {
                self.attempts.push(Attempt {
                    conn,
                    host: host.clone(),
                    address: report.address.clone(),
                    verdict: report.verdict,
                    reason: report.reason.clone(),
                    waived: false,
                    tls: report.tls.clone(),
                    refused: None,
                    received: None,
                    transmitted: None,
                    transaction: None,
                });
                self.attempts.len() - 1
            }
        };
        let attempt = &mut self.attempts[index];
        if attempt.reason.is_none() {
            attempt.reason = report.reason.clone();
        }
        attempt.transaction = tx.cloned();
        let dane = dane_detail(attempt.verdict, attempt.reason.as_ref());
        let failure = report.reason.as_ref().map(|r| r.to_string());
        let Some(tx) = tx else {
            if attempt.refused.is_some() {
                return;
            }
            if self.config.requiretls && report.verdict == ConnectionVerdict::DaneFailed {
                // RFC 8689 sec. 4.2.1 step 4: no TLS-protected, authenticated session.
                self.requiretls_unmet = Some(dane.clone());
            }
            let (status, retry) = match report.verdict {
                ConnectionVerdict::DaneFailed => ("4.7.5", RETRY_DANE_SECS),
                ConnectionVerdict::ClientUnsupported => ("4.7.0", RETRY_DANE_SECS),
                _ => ("4.4.1", RETRY_SMTP_SECS),
            };
            let d = Deferral {
                status: status.into(),
                diagnostic: format!(
                    "{host}[{}]: {}",
                    report.address,
                    failure.unwrap_or_else(|| "no transaction".into())
                ),
                from_server: false,
                host: Some(host),
                retry_after: retry,
                dane: Some(dane),
            };
            for i in self.pending() {
                self.defer(i, d.clone());
            }
            return;
        };
        for (i, _) in tx.rcpts.clone() {
            let by_reply = |reply: &Reply| Deferral {
                status: reply_status(reply),
                diagnostic: reply.text(),
                from_server: true,
                host: Some(host.clone()),
                retry_after: RETRY_SMTP_SECS,
                dane: Some(dane.clone()),
            };
            match tx.fate(i) {
                RcptFate::Delivered(reply) => {
                    self.set_final(i, RecipientState::Delivered, by_reply(&reply))
                }
                RcptFate::Permanent(reply) => {
                    let mut d = by_reply(&reply);
                    d.retry_after = 0;
                    self.set_final(i, RecipientState::Bounced, d)
                }
                RcptFate::Transient(reply) => self.defer(i, by_reply(&reply)),
                RcptFate::Unknown => self.defer(
                    i,
                    Deferral {
                        status: "4.4.2".into(),
                        diagnostic: format!(
                            "{host}[{}]: the connection ended before the result: {}",
                            report.address,
                            failure.clone().unwrap_or_else(|| "no reply".into())
                        ),
                        from_server: false,
                        host: Some(host.clone()),
                        retry_after: RETRY_SMTP_SECS,
                        dane: Some(dane.clone()),
                    },
                ),
            }
        }
    }

    /// The end state of a recipient still pending when no host is left.
    pub(super) fn settle(
        &self,
        last: Option<&Deferral>,
        report: &Report,
    ) -> (RecipientState, Deferral) {
        let local = |status: &str, diagnostic: String, retry: u64| Deferral {
            status: status.into(),
            diagnostic,
            from_server: false,
            host: None,
            retry_after: retry,
            dane: None,
        };
        if let Some(why) = &self.requiretls_unmet {
            let mut d = last
                .cloned()
                .unwrap_or_else(|| local("5.7.30", why.clone(), 0));
            d.status = "5.7.30".into();
            d.retry_after = 0;
            d.diagnostic = format!(
                "REQUIRETLS: no MX host met RFC 8689 sec. 4.2.1: {}",
                d.diagnostic
            );
            return (RecipientState::Bounced, d);
        }
        let because = report
            .reason
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_else(|| report.verdict.as_str().to_string());
        match report.verdict {
            DomainVerdict::Nxdomain => {
                return (
                    RecipientState::Bounced,
                    local("5.1.2", "the domain does not exist (NXDOMAIN)".into(), 0),
                )
            }
            DomainVerdict::NullMx => {
                return (
                    RecipientState::Bounced,
                    local(
                        "5.1.10",
                        "the domain accepts no mail: null MX (RFC 7505)".into(),
                        0,
                    ),
                )
            }
            _ => {}
        }
        if let Some(d) = last {
            return (RecipientState::Deferred, d.clone());
        }
        let host_reason = report
            .hosts
            .iter()
            .find_map(|h| h.reason.as_ref().map(|r| format!("{}: {r}", h.name)));
        let d = match (report.verdict, host_reason) {
            (DomainVerdict::TempFail | DomainVerdict::Inconclusive, _)
                if report.hosts.is_empty() =>
            {
                local("4.4.3", because, RETRY_DNS_SECS)
            }
            (_, Some(why)) if self.config.check.require_dane => {
                local("4.7.5", why, RETRY_DANE_SECS)
            }
            (_, Some(why)) => local("4.4.3", why, RETRY_DNS_SECS),
            (_, None) => local(
                "4.4.1",
                format!("no MX host could be used ({because})"),
                RETRY_SMTP_SECS,
            ),
        };
        (RecipientState::Deferred, d)
    }
}
