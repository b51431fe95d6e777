//! What a caller may choose about TLS: the crypto provider, the protocol versions and the
//! time source (issue 8; CRATES-NOTES 1.6 and 1.8). Nothing else: see [`TlsSettings`].

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, SupportedProtocolVersion};

use super::{danger, FixedTime};

/// The TLS choices of a caller: crypto provider, protocol versions, time source. Cheap to
/// clone (the configurations are built once, in [`TlsSettings::new`], and shared).
///
/// [`TlsSettings::default`] is daneel's own choice: the *ring* provider, TLS 1.3 (RFC 8446)
/// and TLS 1.2 (RFC 5246), and [`FixedTime`].
///
/// # What cannot be injected
///
/// A [`TlsSettings`] has no field for a certificate verifier, a session store or a client
/// configuration, and the rustls [`ClientConfig`]s are built only here, from the three
/// choices above. Every configuration therefore has:
/// - the crate's handshake-only verifier (it checks the handshake signature only), made from the
///   chosen provider's signature algorithms: the trust decision stays with
///   [`crate::dane::verify()`] (RFC 7672 sec. 3), whatever the caller passes;
/// - resumption disabled ([`Resumption::disabled`]): each connection presents and proves its
///   chain afresh (RFC 7672 sec. 3.1 decides on the chain of *this* handshake);
/// - no early data (RFC 8446 sec. 2.3): nothing can be sent before the DANE verdict.
///
/// A configuration, whatever its verifier, cannot stand in for settings: the crate's TLS
/// pump takes a `TlsSettings`, and the configurations are not public.
///
/// Configurations are built with `ClientConfig::builder_with_details`, the form of
/// `builder_with_provider` that also takes the time source, never with
/// `ClientConfig::builder()`, whose process-default provider panics when both *ring* and
/// aws-lc-rs are in the build (CRATES-NOTES 1.8; `clippy.toml` forbids it).
#[derive(Clone)]
pub struct TlsSettings {
    inner: Arc<Built>,
}

/// The choices and the two configurations made from them (without and with SNI).
struct Built {
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static SupportedProtocolVersion>,
    time_provider: Arc<dyn TimeProvider>,
    /// Indexed by `usize::from(sni_enabled)`.
    configs: [Arc<ClientConfig>; 2],
}

/// Why [`TlsSettings::new`] refused a combination.
#[derive(Clone, Debug, PartialEq)]
pub enum TlsSettingsError {
    /// No protocol version was given.
    NoVersions,
    /// rustls refused the provider with these versions (for instance a provider without a
    /// cipher suite for any of them, or whose key exchange groups cannot serve them).
    Unusable(rustls::Error),
}

impl fmt::Display for TlsSettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsSettingsError::NoVersions => f.write_str("no TLS protocol version was given"),
            TlsSettingsError::Unusable(e) => {
                write!(
                    f,
                    "the crypto provider cannot serve these TLS versions: {e}"
                )
            }
        }
    }
}

impl std::error::Error for TlsSettingsError {}

impl TlsSettings {
    /// Settings with `provider` (whose cipher suites, key exchange groups, signature
    /// algorithms and randomness rustls uses), the protocol `versions` offered in the
    /// ClientHello (RFC 8446 sec. 4.2.1), in any order, and the `time_provider` rustls asks
    /// for the time (see [`FixedTime`] for what it is used for).
    pub fn new(
        provider: Arc<CryptoProvider>,
        versions: &[&'static SupportedProtocolVersion],
        time_provider: Arc<dyn TimeProvider>,
    ) -> Result<Self, TlsSettingsError> {
        if versions.is_empty() {
            return Err(TlsSettingsError::NoVersions);
        }
        let build = |sni_enabled| {
            build_config(&provider, versions, &time_provider, sni_enabled)
                .map_err(TlsSettingsError::Unusable)
        };
        let configs = [build(false)?, build(true)?];
        Ok(TlsSettings {
            inner: Arc::new(Built {
                provider: Arc::clone(&provider),
                versions: versions.to_vec(),
                time_provider: Arc::clone(&time_provider),
                configs,
            }),
        })
    }

    /// The crypto provider.
    pub fn provider(&self) -> &Arc<CryptoProvider> {
        &self.inner.provider
    }

    /// The protocol versions offered.
    pub fn versions(&self) -> &[&'static SupportedProtocolVersion] {
        &self.inner.versions
    }

    /// The time source.
    pub fn time_provider(&self) -> &Arc<dyn TimeProvider> {
        &self.inner.time_provider
    }

    internal!(
        /// The rustls client configuration for SMTP STARTTLS (RFC 3207) under DANE (RFC 7672),
        /// sending SNI (RFC 6066 sec. 3) iff `sni_enabled` (RFC 7672 sec. 8.1: when the TLSA
        /// records are usable, with the TLSA base domain as the name). For inspection: a
        /// `TlsPump` takes settings, never a configuration. Internal: its verifier accepts every
        /// chain and is safe only inside the crate's machines (embedders use
        /// [`crate::dane::DaneVerifier`]).
        fn client_config(&self, sni_enabled: bool) -> Arc<ClientConfig> {
            Arc::clone(&self.inner.configs[usize::from(sni_enabled)])
        }
    );
}

impl Default for TlsSettings {
    /// The *ring* provider, TLS 1.3 and 1.2, [`FixedTime`]; built once per process.
    fn default() -> Self {
        static DEFAULT: OnceLock<TlsSettings> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
                match TlsSettings::new(provider, &versions, Arc::new(FixedTime)) {
                    Ok(settings) => settings,
                    // The ring provider serves both versions: unreachable, and a build-time
                    // bug if not (no input reaches this).
                    Err(e) => unreachable!("ring provider rejects TLS 1.2/1.3: {e}"),
                }
            })
            .clone()
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("versions", &self.inner.versions)
            .field("cipher_suites", &self.inner.provider.cipher_suites)
            .field("time_provider", &self.inner.time_provider)
            .finish_non_exhaustive()
    }
}

/// The one place a [`ClientConfig`] is made (see [`TlsSettings`] for what every one has).
fn build_config(
    provider: &Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    time_provider: &Arc<dyn TimeProvider>,
    sni_enabled: bool,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let verifier = Arc::new(danger::HandshakeOnlyVerifier::new(provider));
    let mut cfg =
        ClientConfig::builder_with_details(Arc::clone(provider), Arc::clone(time_provider))
            .with_protocol_versions(versions)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
    cfg.resumption = Resumption::disabled();
    cfg.enable_sni = sni_enabled;
    cfg.enable_early_data = false;
    Ok(Arc::new(cfg))
}
