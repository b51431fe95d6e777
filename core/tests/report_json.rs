//! Reports read back from the JSON daneel prints (`check --json`, `mua --json`, and the
//! report inside every transcript): reasons that nest one tagged error in another keep one
//! `kind` key each. The `transcript` fuzz target found `GreetingError::SmtpReply`, a newtype
//! variant around the `kind`-tagged `ReplyError`, written with `kind` twice: the report of an
//! implicit-TLS submission server that greets with an IMAP line did not read back, so neither
//! did its transcript (`daneel replay`).

use daneel_core::report::{GreetingError, GreetingProtocol, Reason};
use daneel_core::smtp::reply::ReplyError;

#[test]
fn bad_greeting_reasons_read_back_from_their_json() {
    let errors = [
        GreetingError::SmtpReply {
            error: ReplyError::Syntax {
                line: "* OK [CAPABILITY IMAP4rev1] ready".into(),
            },
        },
        GreetingError::SmtpReply {
            error: ReplyError::CodeMismatch {
                expected: 220,
                found: 250,
            },
        },
        GreetingError::SmtpReply {
            error: ReplyError::LineTooLong,
        },
        GreetingError::TooLong { limit: 1024 },
        GreetingError::Unterminated { bytes: 3 },
        GreetingError::NotAGreeting,
        GreetingError::Refused,
        GreetingError::PlaintextBeforeTls { bytes: 46 },
    ];
    for error in errors {
        for protocol in [GreetingProtocol::Smtp, GreetingProtocol::Imap] {
            let reason = Reason::BadGreeting {
                protocol,
                error: error.clone(),
            };
            let json = serde_json::to_string(&reason).expect("serializes");
            let back: Reason = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{json} does not read back: {e}"));
            assert_eq!(back, reason, "{json}");
        }
    }
}
