//! The driver's bound on one input's outputs (issue 8): a machine that never stops
//! producing actions is aborted after `MAX_OUTPUTS_PER_INPUT`, never spun forever, and the
//! run ends with a report that says so.

use std::net::SocketAddr;

use daneel_core::driver::{Driver, IoCommand, IoEvent, MAX_OUTPUTS_PER_INPUT};
use daneel_core::report::{Reason, Warning};
use daneel_core::{
    Action, DomainVerdict, Input, Machine, Output, QueryId, Report, Timestamp, Transport,
    UsageError,
};

/// Sends a new DNS query on every poll; after an abort, finishes at once if `obeys_abort`.
struct Spinner {
    polls: usize,
    wait_first: bool,
    aborted: bool,
    obeys_abort: bool,
}

impl Spinner {
    fn new(wait_first: bool, obeys_abort: bool) -> Self {
        Spinner {
            polls: 0,
            wait_first,
            aborted: false,
            obeys_abort,
        }
    }
}

impl Machine for Spinner {
    fn handle_input(&mut self, _now: Timestamp, input: Input<'_>) -> Result<(), UsageError> {
        self.aborted |= input == Input::Abort;
        self.wait_first = false;
        Ok(())
    }

    fn poll_output(&mut self, now: Timestamp) -> Output {
        self.polls += 1;
        if self.aborted && self.obeys_abort {
            let mut report = Report::abandoned(now);
            report.domain = "spinner.example".into();
            return Output::Done(Box::new(report));
        }
        if self.wait_first {
            return Output::Timeout(now);
        }
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        Output::Action(Action::SendDns {
            query: QueryId(self.polls as u32),
            server,
            transport: Transport::Udp,
            wire: vec![0; 12],
        })
    }
}

/// Polls every command the driver has; returns the report of `Finished`, if any, and how
/// many DNS exchanges it asked for.
fn commands(driver: &mut Driver<Spinner>, now: Timestamp) -> (Option<Box<Report>>, usize) {
    let mut sent = 0;
    while let Some(command) = driver.poll_command(now) {
        match command {
            IoCommand::DnsUdp { .. } => sent += 1,
            IoCommand::Finished { report, .. } => return (Some(report), sent),
            _ => {}
        }
    }
    (None, sent)
}

fn runaway(report: &Report) -> bool {
    report.warnings
        == [Warning::Runaway {
            max_outputs: MAX_OUTPUTS_PER_INPUT,
        }]
}

#[test]
fn a_machine_that_spins_at_start_is_aborted_and_its_own_report_says_so() {
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let mut driver = Driver::new(Spinner::new(false, true));
    driver.start(now);
    let (report, sent) = commands(&mut driver, now);
    let report = report.expect("the run ends");
    assert_eq!(report.domain, "spinner.example", "the machine's own report");
    assert!(runaway(&report), "{:?}", report.warnings);
    assert_eq!(
        sent, MAX_OUTPUTS_PER_INPUT,
        "the actions before the bound were performed"
    );
    // Bounded, not spun: polled up to the bound, then once more for its Done.
    assert_eq!(driver.machine().polls, MAX_OUTPUTS_PER_INPUT + 1);
}

#[test]
fn a_machine_that_spins_on_an_event_and_ignores_the_abort_ends_with_a_stand_in_report() {
    let now = Timestamp::from_unix_secs(1_800_000_000);
    let mut driver = Driver::new(Spinner::new(true, false));
    driver.start(now);
    let (report, sent) = commands(&mut driver, now);
    assert!(report.is_none() && sent == 0, "it waits first");
    driver.handle(now, IoEvent::Timer).unwrap();
    let (report, _) = commands(&mut driver, now);
    let report = report.expect("the run ends");
    assert_eq!(report.verdict, DomainVerdict::Inconclusive);
    assert_eq!(report.reason, Some(Reason::Aborted));
    assert!(runaway(&report), "{:?}", report.warnings);
    // Bounded: the wait, the bound, and the bound again after the abort.
    assert_eq!(driver.machine().polls, 2 * MAX_OUTPUTS_PER_INPUT + 1);
    // The run is over: later events reach no machine.
    driver.handle(now, IoEvent::Timer).unwrap();
    assert_eq!(driver.machine().polls, 2 * MAX_OUTPUTS_PER_INPUT + 1);
}
