//! SMTP replies (stand-in until the SMTP work merges).
/// A reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Code.
    pub code: u16,
    /// Lines.
    pub lines: Vec<String>,
}
impl Reply {
    /// Text.
    pub fn text(&self) -> String {
        String::new()
    }
}
/// Error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyError;
impl std::fmt::Display for ReplyError {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}
/// EHLO info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EhloInfo {
    /// Domain.
    pub domain: String,
}
