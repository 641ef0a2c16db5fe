//! Secrets handed to people (session ids, invitation and password-reset
//! tokens): made from the operating system's CSPRNG, and stored only as
//! their digest, so a copy of a table or of Redis hands out nothing live.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// Bytes of randomness in a token: 256 bits.
pub const TOKEN_BYTES: usize = 32;

/// A new token of [`TOKEN_BYTES`] random bytes, as base64url without padding
/// (43 characters, safe in URLs and cookies).
pub fn token() -> Result<String, getrandom::Error> {
    let mut buffer = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut buffer)?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// SHA-256 of a token, as hex: what is stored and looked up instead of the
/// token. Tokens carry 256 random bits, so no salt or slow hash is needed.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = token().unwrap();
        let b = token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes are 43 base64url characters");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
