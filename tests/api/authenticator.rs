//! A software authenticator for the passkey tests: P-256 keys, attestation `none`, real
//! `authenticatorData` (RP id hash, flags, counter, attested credential data with a COSE
//! key) and real ECDSA signatures, answered in the JSON form of
//! `PublicKeyCredential.toJSON()`. Its fields are public so a test can misbehave on
//! purpose: another origin, a counter sent back in time, no user verification.

#![allow(dead_code)]

use data_encoding::BASE64URL_NOPAD;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

/// One discoverable credential the authenticator holds.
pub struct Credential {
    pub id: Vec<u8>,
    pub key: SigningKey,
    pub user_handle: Vec<u8>,
    pub counter: u32,
}

pub struct Authenticator {
    /// What `clientDataJSON.origin` says (the page the browser is on).
    pub origin: String,
    /// The relying-party id the authenticator signs for.
    pub rp_id: String,
    pub credentials: Vec<Credential>,
    /// Whether the user proved who they are (PIN, biometrics).
    pub user_verified: bool,
    /// The counter each use adds (0: a passkey without a counter).
    pub counter_step: u32,
}

impl Authenticator {
    /// An authenticator for the site at `base` (`http://localhost:PORT`).
    pub fn for_site(base: &str) -> Authenticator {
        let host = base
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        Authenticator {
            origin: base.to_owned(),
            rp_id: host,
            credentials: Vec::new(),
            user_verified: true,
            counter_step: 1,
        }
    }

    fn flags(&self) -> u8 {
        let mut flags = FLAG_UP | FLAG_BE | FLAG_BS;
        if self.user_verified {
            flags |= FLAG_UV;
        }
        flags
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// Answers creation options (`{"publicKey": …}`) with a new credential.
    pub fn create(&mut self, options: &Value) -> Value {
        let public_key = &options["publicKey"];
        let challenge = public_key["challenge"].as_str().expect("a challenge");
        let user_handle = BASE64URL_NOPAD
            .decode(public_key["user"]["id"].as_str().expect("a user id").as_bytes())
            .expect("base64url user id");
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let mut id = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let point = key.verifying_key().to_encoded_point(false);
        let cose_key = cbor_map(vec![
            (cbor_int(1), cbor_int(2)),
            (cbor_int(3), cbor_int(-7)),
            (cbor_int(-1), cbor_int(1)),
            (cbor_int(-2), cbor_bytes(point.x().expect("x"))),
            (cbor_int(-3), cbor_bytes(point.y().expect("y"))),
        ]);
        let counter = self.counter_step;
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags() | FLAG_AT);
        auth_data.extend_from_slice(&counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&u16::try_from(id.len()).expect("short id").to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_key);
        let attestation = cbor_map(vec![
            (cbor_text("fmt"), cbor_text("none")),
            (cbor_text("attStmt"), cbor_map(Vec::new())),
            (cbor_text("authData"), cbor_bytes(&auth_data)),
        ]);
        let client_data = self.client_data("webauthn.create", challenge);
        let encoded_id = BASE64URL_NOPAD.encode(&id);
        self.credentials.push(Credential {
            id,
            key,
            user_handle,
            counter,
        });
        json!({
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "response": {
                "attestationObject": BASE64URL_NOPAD.encode(&attestation),
                "clientDataJSON": BASE64URL_NOPAD.encode(&client_data),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers request options (`{"publicKey": …}`) with credential `index`, as a
    /// discoverable credential (its user handle included).
    pub fn get(&mut self, options: &Value, index: usize) -> Value {
        let challenge = options["publicKey"]["challenge"]
            .as_str()
            .expect("a challenge")
            .to_owned();
        let flags = self.flags();
        let step = self.counter_step;
        let client_data = self.client_data("webauthn.get", &challenge);
        let rp_hash = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        let credential = &mut self.credentials[index];
        credential.counter = credential.counter.wrapping_add(step);
        let mut auth_data = rp_hash;
        auth_data.push(flags);
        auth_data.extend_from_slice(&credential.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = credential.key.sign(&signed);
        let encoded_id = BASE64URL_NOPAD.encode(&credential.id);
        json!({
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "response": {
                "authenticatorData": BASE64URL_NOPAD.encode(&auth_data),
                "clientDataJSON": BASE64URL_NOPAD.encode(&client_data),
                "signature": BASE64URL_NOPAD.encode(signature.to_der().as_bytes()),
                "userHandle": BASE64URL_NOPAD.encode(&credential.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}

// Just enough CBOR (RFC 8949) for an attestation object and a COSE key.

fn cbor_head(major: u8, value: u64) -> Vec<u8> {
    let major = major << 5;
    match value {
        0..=23 => vec![major | u8::try_from(value).expect("small")],
        24..=0xff => vec![major | 24, u8::try_from(value).expect("u8")],
        0x100..=0xffff => {
            let mut out = vec![major | 25];
            out.extend_from_slice(&u16::try_from(value).expect("u16").to_be_bytes());
            out
        }
        _ => {
            let mut out = vec![major | 26];
            out.extend_from_slice(&u32::try_from(value).expect("u32").to_be_bytes());
            out
        }
    }
}

fn cbor_int(value: i64) -> Vec<u8> {
    if value >= 0 {
        cbor_head(0, value.unsigned_abs())
    } else {
        cbor_head(1, (-1 - value).unsigned_abs())
    }
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = cbor_head(3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
    out
}

fn cbor_map(entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u8> {
    let mut out = cbor_head(5, entries.len() as u64);
    for (key, value) in entries {
        out.extend(key);
        out.extend(value);
    }
    out
}

#[test]
fn cbor_encodes_the_rfc_examples() {
    assert_eq!(cbor_int(10), [0x0a]);
    assert_eq!(cbor_int(-1), [0x20]);
    assert_eq!(cbor_int(-7), [0x26]);
    assert_eq!(cbor_int(500), [0x19, 0x01, 0xf4]);
    assert_eq!(cbor_text("a"), [0x61, 0x61]);
    assert_eq!(cbor_bytes(&[1, 2, 3, 4]), [0x44, 1, 2, 3, 4]);
    assert_eq!(cbor_map(Vec::new()), [0xa0]);
}
