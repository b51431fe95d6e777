//! SMTP client side: reply parsing (RFC 5321 sec. 4.2, RFC 2034/3463 enhanced codes), the
//! commands the client sends, the per-connection session with STARTTLS (RFC 3207), and the
//! RFC 7672 route planner.

pub mod reply;
internal! {
    mod command;
    mod session;
    mod transaction;
    mod route;
}

pub use route::{InsecureMxPolicy, SniMode};
// What reports and delivery results carry from the session and the transaction.
pub use session::Stage;
pub use transaction::{DataMethod, RcptFate, TransactionOutcome, WireMessage};
