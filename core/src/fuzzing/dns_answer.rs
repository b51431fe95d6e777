//! `dns_answer` target: the DNS client (RFC 1035, RFC 4035 sec. 3.2.3 for the AD bit) given
//! arbitrary bytes as the answer to a pending TLSA query. Oracle: `Secure` never without
//! AD=1, and a peer's bytes never give a `UsageError`.

use std::net::SocketAddr;

use hickory_proto::rr::{Name, RecordType};

use crate::dns::{DnsClient, DnsConfig, Security};
use crate::machine::Action;
use crate::seed::{DetRng, Seed};
use crate::time::Timestamp;

/// Runs one case: arbitrary bytes as the answer to a pending query. The first byte
/// chooses whether the harness patches in the query's id and question, so the fuzzer gets
/// past the checks that reject spoofed answers.
pub fn run(data: &[u8]) {
    let server = SocketAddr::from(([127, 0, 0, 1], 53));
    let mut client = DnsClient::new(DnsConfig::new(vec![server]), DetRng::new(Seed(7), 0));
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let Ok(qname) = Name::from_ascii("_25._tcp.mx.example.com.") else {
        return;
    };
    let _lookup = client.lookup(now, &qname, RecordType::TLSA);
    let Some(Action::SendDns {
        query, wire: qwire, ..
    }) = client.poll_action()
    else {
        panic!("a lookup must send a query");
    };
    let (mode, body) = data.split_first().unwrap_or((&0, &[]));
    let mut answer = body.to_vec();
    if mode & 1 == 1 && answer.len() >= 12 && qwire.len() >= 12 {
        // Same id, QR=1, opcode QUERY, and the query's question section spliced in.
        answer[..2].copy_from_slice(&qwire[..2]);
        answer[2] = (answer[2] | 0x80) & 0x87;
        let question_end = question_end(&qwire).unwrap_or(qwire.len());
        let mut spliced = answer[..12].to_vec();
        spliced[4..6].copy_from_slice(&[0, 1]);
        spliced.extend_from_slice(&qwire[12..question_end]);
        spliced.extend_from_slice(&answer[12..]);
        answer = spliced;
    }
    let ad = answer.len() > 3 && answer[3] & 0x20 != 0;
    assert!(
        client.handle_answer(now, query, None, &answer).is_ok(),
        "peer bytes gave a UsageError"
    );
    for _ in 0..16 {
        while let Some(result) = client.poll_result() {
            if let (_, Ok(a)) = result {
                assert!(a.security != Security::Secure || ad, "Secure without AD");
            }
        }
        while client.poll_action().is_some() {}
        match client.next_deadline() {
            Some(d) => client.handle_timeout(d),
            None => break,
        }
    }
}

/// Offset just past the question section of a query we built (one question).
fn question_end(wire: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = usize::from(*wire.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        i += len;
    }
    Some(i + 4)
}
