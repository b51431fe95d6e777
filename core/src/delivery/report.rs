//! What a delivery reports: each recipient's end state (delivered, deferred with a reason
//! and a retry hint, or bounced), each connection attempt with its trust verdict and
//! transaction, and the per-message requirements with any waiver (RFC 8689).

use serde::{Deserialize, Serialize};

use super::trace::ReceivedTrace;
use crate::report::{ConnectionVerdict, Reason, TlsReport};
use crate::smtp::transaction::TransactionOutcome;

/// Where a recipient ended. Every recipient ends in exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecipientState {
    /// A server accepted responsibility for the message (RFC 5321 sec. 6.1).
    Delivered,
    /// Not delivered yet; a later attempt may succeed (DSN action `delayed`, RFC 3464
    /// sec. 2.3.3).
    Deferred,
    /// Will never be delivered (DSN action `failed`).
    Bounced,
}

impl RecipientState {
    /// The name used in output, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Delivered => "delivered",
            RecipientState::Deferred => "deferred",
            RecipientState::Bounced => "bounced",
        }
    }
}

/// One recipient's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecipientReport {
    /// The address, as given to RCPT TO.
    pub address: String,
    /// Its end state.
    pub state: RecipientState,
    /// The RFC 3463 status code (DSN `Status`): the server's enhanced code when it gave
    /// one, else one daneel chose.
    pub status: String,
    /// What happened, for people and for DSN `Diagnostic-Code`: `smtp; <reply>` when a
    /// server replied, else daneel's own reason.
    pub diagnostic: String,
    /// Whether `diagnostic` is a server's reply (`Diagnostic-Code: smtp; ...`).
    pub from_server: bool,
    /// The host that gave the result (DSN `Remote-MTA: dns; host`), if one did.
    pub remote_mta: Option<String>,
    /// For a deferral: when to try again, in seconds (a local choice, like Postfix's
    /// backoff; RFC 5321 sec. 4.5.4.1 asks for at least 30 minutes between tries of one
    /// host, DNS trouble heals sooner).
    pub retry_after_secs: Option<u64>,
    /// The DANE side of the last connection that decided it (the seed's `dane`
    /// MTA-name-type idea, reported as an `X-` extension field in the DSN).
    pub dane: Option<String>,
}

/// One connection a delivery used or tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The connection's id in the machine's actions.
    pub conn: crate::machine::ConnId,
    /// The MX host.
    pub host: String,
    /// The address and port.
    pub address: String,
    /// The connection's trust verdict (DESIGN.md section 5).
    pub verdict: ConnectionVerdict,
    /// Why, when it failed or was not authenticated.
    pub reason: Option<Reason>,
    /// A DANE authentication failure was waived by `TLS-Required: No` (RFC 8689 sec. 4.1).
    pub waived: bool,
    /// The handshake, when TLS was up.
    pub tls: Option<TlsReport>,
    /// Why no transaction was started on a connection that was ready for one.
    pub refused: Option<String>,
    /// What the server's `Received:` field will show for this hop.
    pub received: Option<ReceivedTrace>,
    /// The `Transmitted:` field sent (`--trace`), without its CRLF.
    pub transmitted: Option<String>,
    /// The transaction, when one ran.
    pub transaction: Option<TransactionOutcome>,
}

/// What happened to `TLS-Required: No` (RFC 8689 sec. 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Waiver {
    /// The message does not carry the field.
    Absent,
    /// It is in force: a DANE authentication failure falls back to unauthenticated TLS.
    InForce,
    /// Ignored: REQUIRETLS is in force (RFC 8689 sec. 4.1).
    IgnoredForRequireTls,
    /// Overridden by `--require-dane`.
    OverriddenByRequireDane,
}

/// The per-message requirements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    /// Only an authenticated DANE channel (RFC 7672 sec. 6, `--require-dane`).
    pub require_dane: bool,
    /// REQUIRETLS (RFC 8689 sec. 4.2.1).
    pub requiretls: bool,
    /// `TLS-Required: No` and what became of it.
    pub waiver: Waiver,
    /// The waiver let at least one failed authentication through.
    pub waiver_used: bool,
}

/// The delivery part of a [`crate::Report`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The reverse path.
    pub from: String,
    /// The message size (CRLF form).
    pub size: u64,
    /// Each recipient, in the order given.
    pub recipients: Vec<RecipientReport>,
    /// Each connection, in order.
    pub attempts: Vec<Attempt>,
    /// The requirements.
    pub requirements: Requirements,
}

impl DeliveryReport {
    /// A report with no recipients or attempts yet, for a message of `size` octets from
    /// `from` under `requirements` (a caller merging several deliveries starts from it).
    pub fn new(from: String, size: u64, requirements: Requirements) -> Self {
        DeliveryReport {
            from,
            size,
            recipients: Vec::new(),
            attempts: Vec::new(),
            requirements,
        }
    }

    /// Whether any recipient ended in `state`.
    pub fn any(&self, state: RecipientState) -> bool {
        self.recipients.iter().any(|r| r.state == state)
    }
}
