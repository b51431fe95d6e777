//! SMTP client side: reply parsing (RFC 5321 sec. 4.2, RFC 2034/3463 enhanced codes), the
//! commands the client sends, the per-connection session with STARTTLS (RFC 3207), and the
//! RFC 7672 route planner.

pub mod command;
pub mod reply;
internal! {
    mod route;
}
pub mod session;
pub mod transaction;

pub use route::{InsecureMxPolicy, SniMode};
