//! The server key (`GATEHOUSE_SECRET_KEY`): it seals what the browser carries between
//! requests that is not a session — an OAuth flow in progress, a one-read flash value,
//! a device's sign-in record — so that the browser can neither read nor forge it.
//!
//! Sealing is XChaCha20-Poly1305 (random 192-bit nonces, so no counter to share between
//! instances) under a subkey derived with HKDF-SHA256 for each purpose: a value sealed
//! for one purpose never opens as another. `GATEHOUSE_SECRET_KEY_PREVIOUS` still opens
//! (never seals), so a key can be rotated across instances without signing anyone out
//! of a flow: deploy the new key with the old one as previous, and drop the previous
//! key once its values have expired (ten minutes for flows, a year for device records).

use anyhow::{bail, Context};
use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::Sha256;
use std::{fmt, path::Path};

/// Bytes of a server key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// The format of a sealed value, as its first byte: a later format can change anything
/// after it.
const FORMAT: u8 = 1;

/// What a sealed value is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A value shown once on the next page (a form's typed username, its error).
    Flash,
    /// A browser's record of the account that signed in on it.
    Device,
    /// A form error carried back to its page in the address (`__err`): only the server
    /// writes one.
    ErrorUrl,
    /// A TOTP secret at rest (in the database).
    TotpSecret,
    /// A recovery code's stored form (a keyed hash: a stolen table alone does not let
    /// anyone search the codes' 50 bits).
    RecoveryCode,
    /// Recovery codes shown once, on the page after they were made.
    RecoveryCodesFlash,
    /// A message waiting in the mail queue (it may hold a one-time link).
    QueuedMail,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Flash => b"gatehouse flash v1",
            Purpose::Device => b"gatehouse device v1",
            Purpose::ErrorUrl => b"gatehouse error url v1",
            Purpose::TotpSecret => b"gatehouse totp secret v1",
            Purpose::RecoveryCode => b"gatehouse recovery code v1",
            Purpose::RecoveryCodesFlash => b"gatehouse recovery codes flash v1",
            Purpose::QueuedMail => b"gatehouse queued mail v1",
        }
    }
}

/// A 32-byte key. Printing it shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; KEY_BYTES]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; KEY_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        SecretKey(bytes)
    }

    /// Reads a key written as 64 hex digits or as base64 (standard or URL-safe, padded
    /// or not) of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let text = text.trim();
        let decoded = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).ok()
        } else {
            [URL_SAFE_NO_PAD, URL_SAFE, STANDARD_NO_PAD, STANDARD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
        };
        let bytes = decoded.ok_or("expected 32 bytes as 64 hex digits or as base64")?;
        let bytes: [u8; KEY_BYTES] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("expected 32 bytes, got {}", b.len()))?;
        Ok(SecretKey(bytes))
    }

    /// The key as 64 hex digits (what a key file holds).
    fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn subkey(&self, purpose: Purpose) -> [u8; KEY_BYTES] {
        let mut subkey = [0u8; KEY_BYTES];
        // HKDF-Expand of 32 bytes cannot fail (the limit is 255 × 32).
        let _ = Hkdf::<Sha256>::new(Some(b"gatehouse"), &self.0).expand(purpose.label(), &mut subkey);
        subkey
    }

    fn cipher(&self, purpose: Purpose) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.subkey(purpose).into())
    }

    fn mac(&self, purpose: Purpose, data: &[u8]) -> Hmac<Sha256> {
        // HMAC pads a short key with zeros to the hash's block: the same key, padded here.
        let mut key = [0u8; 64];
        key[..KEY_BYTES].copy_from_slice(&self.subkey(purpose));
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(data);
        mac
    }
}

/// The keys a server seals and opens with.
#[derive(Clone, Debug)]
pub struct Keys {
    current: SecretKey,
    previous: Option<SecretKey>,
}

/// A sealed value with its expiry.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// Unix seconds after which the value no longer opens.
    exp: i64,
    value: T,
}

impl Keys {
    pub fn new(current: SecretKey, previous: Option<SecretKey>) -> Keys {
        Keys { current, previous }
    }

    /// Seals `plaintext` for `purpose`; `context` is bound to it too (a cookie's name,
    /// say) without being stored in it. The result is URL- and cookie-safe text.
    pub fn seal(&self, purpose: Purpose, context: &[u8], plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let aad = [purpose.label(), b"|", context].concat();
        let sealed = self
            .current
            .cipher(purpose)
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Encryption fails only for inputs of tens of gigabytes.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens what [`Keys::seal`] made for the same purpose and context, with the current
    /// key or the previous one; `None` for anything forged, altered, or sealed for
    /// something else.
    pub fn open(&self, purpose: Purpose, context: &[u8], sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        let (&format, rest) = bytes.split_first()?;
        if format != FORMAT || rest.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let aad = [purpose.label(), b"|", context].concat();
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find_map(|key| {
                key.cipher(purpose)
                    .decrypt(
                        XNonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: &aad,
                        },
                    )
                    .ok()
            })
    }

    /// A tag that proves the server wrote `data` (for values the browser may read but
    /// must not forge, such as an error carried in an address).
    pub fn tag(&self, purpose: Purpose, data: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.current.mac(purpose, data).finalize().into_bytes())
    }

    /// The tags of `data` under the current key and the previous one (to look up a value
    /// stored before a rotation).
    pub fn tags(&self, purpose: Purpose, data: &[u8]) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(|key| URL_SAFE_NO_PAD.encode(key.mac(purpose, data).finalize().into_bytes()))
            .collect()
    }

    /// True when a value sealed for `purpose` opens only with the previous key: it should
    /// be sealed again with the current one.
    pub fn sealed_with_previous(&self, purpose: Purpose, context: &[u8], sealed: &str) -> bool {
        let current_only = Keys::new(self.current.clone(), None);
        current_only.open(purpose, context, sealed).is_none() && self.open(purpose, context, sealed).is_some()
    }

    /// True when `tag` is what [`Keys::tag`] gives for `data` with the current key or the
    /// previous one (compared in constant time).
    pub fn verify_tag(&self, purpose: Purpose, data: &[u8], tag: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag.trim()) else {
            return false;
        };
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .any(|key| key.mac(purpose, data).verify_slice(&tag).is_ok())
    }

    /// Seals `value` as JSON, to be opened until `expires_at` (unix seconds).
    pub fn seal_json<T: Serialize>(
        &self,
        purpose: Purpose,
        context: &[u8],
        value: &T,
        expires_at: i64,
    ) -> String {
        let envelope = Envelope {
            exp: expires_at,
            value,
        };
        let json = serde_json::to_vec(&envelope).unwrap_or_default();
        self.seal(purpose, context, &json)
    }

    /// Opens what [`Keys::seal_json`] sealed, if it has not expired at `now`.
    pub fn open_json<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        context: &[u8],
        sealed: &str,
        now: i64,
    ) -> Option<T> {
        let json = self.open(purpose, context, sealed)?;
        let envelope: Envelope<T> = serde_json::from_slice(&json).ok()?;
        (now <= envelope.exp).then_some(envelope.value)
    }
}

/// Where the key of a deployment comes from when `GATEHOUSE_SECRET_KEY` is unset.
#[derive(Clone, Copy, Debug)]
pub enum KeySource<'a> {
    /// A SQLite file: its key lives next to it, in `<file>.key`.
    SqliteFile(&'a Path),
    /// An in-memory SQLite database: a key for this process only.
    Ephemeral,
    /// PostgreSQL: every instance needs the same key, so it must be configured.
    Required,
}

/// The server's keys: the configured ones, or (unset) per [`KeySource`].
pub fn load(
    configured: Option<&SecretKey>,
    previous: Option<&SecretKey>,
    source: KeySource<'_>,
) -> anyhow::Result<Keys> {
    let current = match (configured, source) {
        (Some(key), _) => key.clone(),
        (None, KeySource::Ephemeral) => SecretKey::generate(),
        (None, KeySource::Required) => bail!(
            "GATEHOUSE_SECRET_KEY must be set with PostgreSQL (the same key on every instance; \
             make one with `openssl rand -hex 32`)"
        ),
        (None, KeySource::SqliteFile(database)) => key_file(database)?,
    };
    Ok(Keys::new(current, previous.cloned()))
}

/// The key stored next to a SQLite database, made (readable by its owner only) the
/// first time.
fn key_file(database: &Path) -> anyhow::Result<SecretKey> {
    let mut path = database.as_os_str().to_owned();
    path.push(".key");
    let path = std::path::PathBuf::from(path);
    let fresh = SecretKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(fresh.to_hex().as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the server key to {}", path.display()))?;
            tracing::info!(file = %path.display(), "made a server key (GATEHOUSE_SECRET_KEY was unset)");
            Ok(fresh)
        }
        // Already there (made by an earlier start, or a second process just now).
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the server key from {}", path.display()))?;
            SecretKey::parse(&text)
                .map_err(|e| anyhow::anyhow!("the server key in {} is unusable: {e}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create the server key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(SecretKey::generate(), None)
    }

    #[test]
    fn a_sealed_value_opens_with_its_purpose_and_context_only() {
        let keys = keys();
        let sealed = keys.seal(Purpose::Device, b"cookie-a", b"secret state");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            keys.open(Purpose::Device, b"cookie-a", &sealed).as_deref(),
            Some(&b"secret state"[..])
        );
        assert_eq!(
            keys.open(Purpose::Flash, b"cookie-a", &sealed),
            None,
            "another purpose"
        );
        assert_eq!(
            keys.open(Purpose::Device, b"cookie-b", &sealed),
            None,
            "another context"
        );
        assert_eq!(
            Keys::new(SecretKey::generate(), None).open(Purpose::Device, b"cookie-a", &sealed),
            None
        );
        assert_ne!(
            sealed,
            keys.seal(Purpose::Device, b"cookie-a", b"secret state"),
            "fresh nonce"
        );
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let keys = keys();
        let sealed = keys.seal(Purpose::Flash, b"", b"hello");
        let bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("base64");
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            assert_eq!(
                keys.open(Purpose::Flash, b"", &URL_SAFE_NO_PAD.encode(&altered)),
                None,
                "byte {i}"
            );
        }
        for junk in ["", "AQ", "not base64 at all!", &sealed[..sealed.len() - 2]] {
            assert_eq!(keys.open(Purpose::Flash, b"", junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_previous_key_still_opens_but_never_seals() {
        let old = SecretKey::generate();
        let sealed_before = Keys::new(old.clone(), None).seal(Purpose::Device, b"", b"record");
        let rotated = Keys::new(SecretKey::generate(), Some(old.clone()));
        assert_eq!(
            rotated.open(Purpose::Device, b"", &sealed_before).as_deref(),
            Some(&b"record"[..])
        );
        let sealed_after = rotated.seal(Purpose::Device, b"", b"record");
        assert_eq!(
            Keys::new(old, None).open(Purpose::Device, b"", &sealed_after),
            None
        );
    }

    #[test]
    fn tags_verify_only_what_was_tagged() {
        let old = SecretKey::generate();
        let keys = Keys::new(SecretKey::generate(), Some(old.clone()));
        let tag = keys.tag(Purpose::ErrorUrl, b"/api/login|error");
        assert!(keys.verify_tag(Purpose::ErrorUrl, b"/api/login|error", &tag));
        assert!(!keys.verify_tag(Purpose::ErrorUrl, b"/api/login|errors", &tag));
        assert!(!keys.verify_tag(Purpose::Flash, b"/api/login|error", &tag));
        assert!(!keys.verify_tag(Purpose::ErrorUrl, b"/api/login|error", "AAAA"));
        assert!(!keys.verify_tag(Purpose::ErrorUrl, b"/api/login|error", "not base64!"));
        let by_old = Keys::new(old, None).tag(Purpose::ErrorUrl, b"x");
        assert!(
            keys.verify_tag(Purpose::ErrorUrl, b"x", &by_old),
            "the previous key still verifies"
        );
    }

    #[test]
    fn sealed_json_expires() {
        let keys = keys();
        let sealed = keys.seal_json(Purpose::Flash, b"", &"alice", 1_000);
        assert_eq!(
            keys.open_json::<String>(Purpose::Flash, b"", &sealed, 1_000)
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            keys.open_json::<String>(Purpose::Flash, b"", &sealed, 1_001),
            None
        );
    }

    #[test]
    fn keys_are_read_from_hex_or_base64_of_32_bytes() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::parse(&key.to_hex()), Ok(key.clone()));
        assert_eq!(SecretKey::parse(&STANDARD.encode(key.0)), Ok(key.clone()));
        assert_eq!(SecretKey::parse(&URL_SAFE_NO_PAD.encode(key.0)), Ok(key.clone()));
        for bad in [
            "",
            "abcd",
            &hex::encode([1u8; 31]),
            &STANDARD.encode([1u8; 33]),
            "not a key at all",
        ] {
            assert!(SecretKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(!format!("{key:?}").contains(&key.to_hex()));
    }

    #[test]
    fn a_sqlite_database_keeps_its_key_in_a_private_file_next_to_it() {
        let dir = tempfile::tempdir().expect("dir");
        let database = dir.path().join("app.db");
        let first = load(None, None, KeySource::SqliteFile(&database)).expect("made");
        let again = load(None, None, KeySource::SqliteFile(&database)).expect("read");
        let sealed = first.seal(Purpose::Flash, b"", b"x");
        assert!(
            again.open(Purpose::Flash, b"", &sealed).is_some(),
            "the same key after a restart"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("app.db.key"))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(load(None, None, KeySource::Required).is_err());
        let configured = SecretKey::generate();
        let keys = load(Some(&configured), None, KeySource::Required).expect("configured");
        assert!(Keys::new(configured, None)
            .open(Purpose::Flash, b"", &keys.seal(Purpose::Flash, b"", b"x"))
            .is_some());
    }
}
