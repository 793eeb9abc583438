//! Password hashing (Argon2id at OWASP's parameters) and the password rules.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore as _;

/// Shortest password accepted (MLflow's rule since CVE-2025-11200).
pub const MIN_PASSWORD_LENGTH: usize = 12;

/// MLflow's former default admin password, refused everywhere.
const LEGACY_DEFAULT_PASSWORD: &str = "password1234";

/// A password that breaks the rules, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WeakPassword(pub String);

/// Checks a new password against the rules: at least [`MIN_PASSWORD_LENGTH`] characters, and not
/// MLflow's old default.
///
/// # Errors
/// [`WeakPassword`] saying which rule failed.
pub fn check_policy(password: &str) -> Result<(), WeakPassword> {
    if password.is_empty() {
        return Err(WeakPassword("Password must not be empty".to_owned()));
    }
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(WeakPassword(format!("Password must be at least {MIN_PASSWORD_LENGTH} characters long")));
    }
    if password == LEGACY_DEFAULT_PASSWORD {
        return Err(WeakPassword(format!(
            "The password '{LEGACY_DEFAULT_PASSWORD}' is MLflow's published default and is refused"
        )));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which
/// carries its own parameters.
#[must_use]
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes fit a salt");
    argon2().hash_password(password.as_bytes(), &salt).expect("Argon2 hashing with valid parameters").to_string()
}

/// Whether `password` matches the stored PHC string. A malformed stored hash never matches.
#[must_use]
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| argon2().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time of one [`verify`] without a user, so an unknown username costs what a wrong
/// password costs.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("ferroflow dummy password for unknown users"));
    let _ = verify(password, dummy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_owasp_parameters() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(stored, hash("correct horse battery"), "each hash has its own salt");
    }

    #[test]
    fn policy_refuses_empty_short_and_the_legacy_default() {
        assert!(check_policy("").unwrap_err().0.contains("empty"));
        assert!(check_policy("elevenchars").unwrap_err().0.contains("at least 12"));
        assert!(check_policy("password1234").unwrap_err().0.contains("default"));
        assert!(check_policy("twelve chars").is_ok());
    }
}
