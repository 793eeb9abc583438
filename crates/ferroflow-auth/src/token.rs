//! API tokens: `ffp_<id>_<secret>`. The id finds the token's row; only the SHA-256 digest of the
//! whole token is stored, and it is compared in constant time. The secret has about 190 random bits,
//! so no password KDF is needed.

use rand::distr::{Alphanumeric, SampleString as _};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

const PREFIX: &str = "ffp_";
const ID_LENGTH: usize = 12;
const SECRET_LENGTH: usize = 32;

/// A token just made: the text to hand out once, its id and the digest to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token as the user will send it. Never stored.
    pub secret: String,
    /// The public id, part of the token text.
    pub id: String,
    /// Hex SHA-256 of [`NewToken::secret`].
    pub digest: String,
}

/// Makes a random token.
#[must_use]
pub fn generate() -> NewToken {
    let mut rng = rand::rng();
    let id = Alphanumeric.sample_string(&mut rng, ID_LENGTH).to_ascii_lowercase();
    let secret = format!("{PREFIX}{id}_{}", Alphanumeric.sample_string(&mut rng, SECRET_LENGTH));
    let digest = digest(&secret);
    NewToken { secret, id, digest }
}

/// The id of something shaped like a ferroflow token, or `None`.
#[must_use]
pub fn parse_id(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == ID_LENGTH
        && secret.len() == SECRET_LENGTH
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    well_formed.then_some(id)
}

/// Hex SHA-256 of a token's text.
#[must_use]
pub fn digest(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Whether `text` is the token whose digest is `stored_digest`, compared in constant time.
#[must_use]
pub fn matches(text: &str, stored_digest: &str) -> bool {
    digest(text).as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

/// Lower-case hex, the form every stored digest and hash takes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match_only_their_digest() {
        let token = generate();
        assert_eq!(parse_id(&token.secret), Some(token.id.as_str()));
        assert!(matches(&token.secret, &token.digest));
        let other = generate();
        assert_ne!(token.secret, other.secret);
        assert!(!matches(&other.secret, &token.digest));
        assert_eq!(token.digest.len(), 64);
        assert!(!token.digest.contains(&token.secret));
    }

    #[test]
    fn digests_are_lower_case_hex_sha256_as_stored() {
        // Stored digests of tokens made by earlier builds must keep matching.
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn look_alikes_are_not_tokens() {
        let token = generate();
        assert_eq!(parse_id("password-of-a-user"), None);
        assert_eq!(parse_id(&token.secret[..token.secret.len() - 1]), None);
        assert_eq!(parse_id(&token.secret.replace("ffp_", "ghp_")), None);
        assert_eq!(parse_id("ffp_abc_def"), None);
    }
}
