//! External programs some tests compare against (the `openssl` command line): whether one
//! is present, and what a missing one means. Under CI (`CI=true`) a missing program fails
//! the test, so a comparison never disappears from a CI run silently; elsewhere the test
//! prints a notice and skips the comparison.

use std::process::{Command, Stdio};

/// Whether `program` runs (`program version` exits with success). When it does not, panics
/// if the environment variable `CI` is `true`, and otherwise prints
/// `SKIPPED (no <program>): <what>` to stderr and returns `false`, so the caller skips
/// `what`.
pub fn available(program: &str, what: &str) -> bool {
    let runs = Command::new(program)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        missing(program, what, std::env::var("CI").as_deref() == Ok("true"));
    }
    runs
}

/// What a missing `program` means: a failure under CI, a printed notice elsewhere.
fn missing(program: &str, what: &str, under_ci: bool) {
    assert!(
        !under_ci,
        "CI=true and no `{program}` program: install it to run {what}"
    );
    eprintln!("SKIPPED (no {program}): {what}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_fails_only_under_ci() {
        missing("no-such-program", "nothing", false);
        let under_ci = std::panic::catch_unwind(|| missing("no-such-program", "nothing", true));
        assert!(under_ci.is_err());
    }
}
