//! PHC strings and argon2 parameters: hashing a new password with today's parameters,
//! and checking a password against a stored hash with the parameters it names.
//!
//! Two crates share the work: `argon2` (RustCrypto) reads and writes PHC strings and
//! checks their parameters; `argon2_rust` computes the hash with the SIMD code this CPU
//! has (it is ~1.4× faster than the portable code on one core, which is what sign-in
//! throughput is made of). Tests hold the two to the same answers.

use anyhow::anyhow;
use argon2::{
    password_hash::{Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Params, Version,
};
use argon2_rust::{
    params::{Memory, TagLen},
    Hasher,
};

/// argon2id memory cost in KiB (OWASP's first recommended configuration).
pub const M_COST_KIB: u32 = 19_456;
/// argon2id passes.
pub const T_COST: u32 = 2;
/// argon2id lanes.
pub const P_COST: u32 = 1;
/// Largest memory cost a stored hash may ask for (a hostile or corrupt row must not
/// make one verification allocate gigabytes).
const MAX_M_COST_KIB: u32 = 256 * 1024;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash uses older (weaker) parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Today's parameters.
pub(super) fn params() -> Params {
    // The constants are valid argon2 parameters; `Params::new` only rejects out-of-range values.
    Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default()
}

/// A hasher for a new hashing thread. Every job names its own configuration, so the
/// one given here is never used to hash.
pub(super) fn new_hasher() -> Hasher {
    argon2_rust::Argon2::new(
        argon2_rust::Algorithm::Argon2id,
        argon2_rust::Version::V0x13,
        argon2_rust::Params::DEFAULT,
    )
    .hasher()
}

/// Computes the argon2 output for `password` and `salt` into `out` (whose length is the
/// output length), growing the hasher's memory when the parameters ask for more.
fn run_argon2(
    hasher: &mut Hasher,
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    let algorithm = match algorithm {
        Algorithm::Argon2d => argon2_rust::Algorithm::Argon2d,
        Algorithm::Argon2i => argon2_rust::Algorithm::Argon2i,
        Algorithm::Argon2id => argon2_rust::Algorithm::Argon2id,
    };
    let version = match version {
        Version::V0x10 => argon2_rust::Version::V0x10,
        Version::V0x13 => argon2_rust::Version::V0x13,
    };
    let engine_params = argon2_rust::Params::builder()
        .memory(Memory::kib(u64::from(params.m_cost())))
        .passes(params.t_cost())
        .lanes(params.p_cost())
        .tag_len(TagLen::bytes(out.len() as u64))
        .build()
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    hasher.set_argon2(argon2_rust::Argon2::new(algorithm, version, engine_params));
    hasher
        .hash_into(password, salt, out)
        .map_err(|e| anyhow!("argon2 failed: {e}"))
}

/// A new PHC string for `password` with today's parameters.
pub(super) fn hash_with(password: &[u8], hasher: &mut Hasher) -> anyhow::Result<String> {
    let params = params();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    run_argon2(
        hasher,
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        password,
        salt_raw,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a PHC string, with the parameters the string names.
pub(super) fn verify_with(password: &[u8], stored: &str, hasher: &mut Hasher) -> anyhow::Result<Verified> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| anyhow!("stored password hash is not a PHC string: {e}"))?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|e| anyhow!("stored hash algorithm: {e}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow!("stored hash version: {e}"))?
        .unwrap_or_default();
    let stored_params = Params::try_from(&parsed).map_err(|e| anyhow!("stored hash parameters: {e}"))?;
    if stored_params.m_cost() > MAX_M_COST_KIB {
        return Err(anyhow!(
            "stored hash asks for {} KiB of memory",
            stored_params.m_cost()
        ));
    }
    let expected = parsed.hash.ok_or_else(|| anyhow!("stored hash has no output"))?;
    let salt = parsed.salt.ok_or_else(|| anyhow!("stored hash has no salt"))?;
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("stored salt: {e}"))?;
    let mut out = vec![0u8; expected.len()];
    run_argon2(
        hasher,
        algorithm,
        version,
        &stored_params,
        password,
        salt_raw,
        &mut out,
    )?;
    // `Output` compares in constant time.
    let matches = Output::new(&out).map_err(|e| anyhow!("output: {e}"))? == expected;
    Ok(Verified {
        matches,
        needs_rehash: matches && is_outdated(&parsed),
    })
}

/// True when a PHC hash is not argon2id v19 with at least our costs.
fn is_outdated(hash: &PasswordHash<'_>) -> bool {
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => p.m_cost() < M_COST_KIB || p.t_cost() < T_COST || p.p_cost() < P_COST,
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::Argon2;

    /// The SIMD engine and RustCrypto's portable code give the same bytes for every
    /// variant, version and shape of input, and one hasher moves between parameter sets
    /// (bigger, then smaller memory) without carrying anything over.
    #[test]
    fn the_hashing_engine_agrees_with_the_portable_reference() {
        let long_password = [0xffu8; 200];
        let passwords: [&[u8]; 3] = [b"", b"tangerine-violin-87", &long_password];
        let salts: [&[u8]; 3] = [b"8bytes!!", b"sixteen-byte-slt", &[7u8; 48]];
        // (m KiB, t, p, output bytes)
        let shapes = [
            (8, 1, 1, 32),
            (1000, 2, 4, 64),
            (64, 3, 1, 4),
            (100, 1, 2, 100),
            (4096, 2, 1, 32),
        ];
        let mut hasher = new_hasher();
        let mut case = 0;
        for algorithm in [Algorithm::Argon2d, Algorithm::Argon2i, Algorithm::Argon2id] {
            for version in [Version::V0x10, Version::V0x13] {
                for (m, t, p, len) in shapes {
                    let password = passwords[case % passwords.len()];
                    let salt = salts[case % salts.len()];
                    case += 1;
                    let params = Params::new(m, t, p, Some(len)).expect("params");
                    let mut ours = vec![0u8; len];
                    run_argon2(
                        &mut hasher,
                        algorithm,
                        version,
                        &params,
                        password,
                        salt,
                        &mut ours,
                    )
                    .expect("engine");
                    let mut reference = vec![0u8; len];
                    Argon2::new(algorithm, version, params)
                        .hash_password_into(password, salt, &mut reference)
                        .expect("reference");
                    assert_eq!(
                        ours, reference,
                        "{algorithm:?} {version:?} m={m} t={t} p={p} len={len}"
                    );
                }
            }
        }
    }
}
