//! The WebAuthn relying party of the site: what the passkey ceremonies (`auth::passkeys`)
//! are verified against. Built once, from the public URL, into the state.

use crate::{model::AppError, server::config::Config};
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

pub const MSG_UNAVAILABLE: &str = "Passkeys are not available on this site.";

/// The relying party: `None` when the public URL is an IP address.
pub struct RelyingParty(Option<Webauthn>);

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RelyingParty").field(&self.0.is_some()).finish()
    }
}

impl RelyingParty {
    /// The relying party of the configured public URL.
    pub fn new(config: &Config) -> anyhow::Result<RelyingParty> {
        if !config.passkeys {
            return Ok(RelyingParty(None));
        }
        let origin = Url::parse(&config.public_origin)?;
        let webauthn = WebauthnBuilder::new(&config.public_host, &origin)
            .and_then(|b| b.rp_name(&config.app_name).build())
            .map_err(|e| anyhow::anyhow!("passkeys: the public URL is not a WebAuthn relying party: {e}"))?;
        Ok(RelyingParty(Some(webauthn)))
    }

    /// The relying party, or 404 ("not available") on a site without passkeys.
    pub fn get(&self) -> Result<&Webauthn, AppError> {
        self.0
            .as_ref()
            .ok_or_else(|| AppError::not_found(MSG_UNAVAILABLE))
    }
}
