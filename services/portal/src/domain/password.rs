//! Passwords: the rules a new password must meet, and argon2id hashing.
//!
//! Hashing is slow on purpose (argon2id with the crate's recommended
//! parameters: 19 MiB, 2 passes); callers run it off the async threads.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use docket_kit::error::FieldViolations;

/// Longest password, in characters: long enough for any passphrase, short
/// enough that hashing cannot be abused.
pub const MAX_LENGTH: usize = 200;

/// Checks a new password; returns it unchanged (passwords are not trimmed).
pub fn check_new(violations: &mut FieldViolations, field: &str, password: &str, min_length: usize, email: &str) -> String {
    let length = password.chars().count();
    if password.trim().is_empty() {
        violations.add(field, format!("is required: at least {min_length} characters"));
    } else if length < min_length {
        violations.add(field, format!("is {length} characters long; use at least {min_length}"));
    } else if length > MAX_LENGTH {
        violations.add(field, format!("is {length} characters long; the most allowed is {MAX_LENGTH}"));
    } else if password.chars().any(char::is_control) {
        violations.add(field, "contains control characters");
    } else if !email.is_empty() && password.trim().eq_ignore_ascii_case(email.trim()) {
        violations.add(field, "must not be your email address");
    }
    password.to_owned()
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The PHC string (`$argon2id$v=19$...`) of a password, with a fresh salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|err| HashError(err.to_string()))
}

/// Whether `password` matches `stored` (a PHC string). A malformed stored
/// hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), stored).is_ok()
}

/// Spends the time of one verification when there is no stored hash (an
/// unknown email, an invitation not yet accepted), so the answer's timing
/// does not tell whether an email has portal access.
pub fn verify_nothing(password: &str) {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(decoy) = DECOY.get_or_init(|| hash("decoy password that matches nothing").ok()) {
        let _ = verify(password, decoy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(hash("correct horse battery").unwrap(), stored, "every hash has its own salt");
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        let check = |password: &str| {
            let mut v = FieldViolations::new();
            check_new(&mut v, "password", password, 10, "ann@example.com");
            v.is_empty()
        };
        assert!(check("long enough passphrase"));
        assert!(check("  spaces around count  "));
        assert!(!check(""));
        assert!(!check("          "));
        assert!(!check("short"));
        assert!(!check(&"x".repeat(MAX_LENGTH + 1)));
        assert!(!check("tab\u{7}bell-password"));
        assert!(!check("ANN@example.com"));
    }
}
