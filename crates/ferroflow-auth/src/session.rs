//! Browser sessions. Signing in through the web UI makes an API token that lives in an HttpOnly
//! cookie, so page scripts never see it. Because a browser attaches that cookie to any request to
//! the server, including one a page on another site forges, every change made with a session must
//! also carry its CSRF token in a header: a one-way digest of the session token, handed to the UI
//! in a second, script-readable cookie. A forging page can make the browser send the cookies but
//! can read neither, so it cannot write the header.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The HttpOnly cookie holding the session's token.
pub const SESSION_COOKIE: &str = "ferroflow_session";
/// The script-readable cookie holding the CSRF token.
pub const CSRF_COOKIE: &str = "ferroflow_csrf";
/// The header a change made with a session carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The name of the API token behind a session, as token listings show it.
pub const TOKEN_NAME: &str = "web session";

/// The CSRF token of a session: hex SHA-256 of a fixed label and the session token, so it reveals
/// nothing of the session token and cannot be made without it.
#[must_use]
pub fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"ferroflow csrf\0");
    hasher.update(session_token.as_bytes());
    hex::encode(hasher.finalize())
}

/// Whether `sent` is the CSRF token of `session_token`, compared in constant time.
#[must_use]
pub fn csrf_matches(session_token: &str, sent: &str) -> bool {
    csrf_token(session_token).as_bytes().ct_eq(sent.as_bytes()).into()
}

/// The value of cookie `name` in `Cookie` header values, if set and not empty.
pub fn cookie<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    headers
        .into_iter()
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` values that start a session (`max_age` `None`) or end one (`Some(0)`
/// clears both cookies). `secure` when the UI was loaded over TLS.
#[must_use]
pub fn set_cookies(session_token: Option<&str>, secure: bool) -> [String; 2] {
    let (session, csrf, max_age) = match session_token {
        Some(token) => (token.to_owned(), csrf_token(token), LIFETIME.as_secs()),
        None => (String::new(), String::new(), 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    [
        format!("{SESSION_COOKIE}={session}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"),
        format!("{CSRF_COOKIE}={csrf}; Path=/; Max-Age={max_age}; SameSite=Strict{secure}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_belongs_to_one_session_and_does_not_reveal_it() {
        let a = crate::token::generate().secret;
        let b = crate::token::generate().secret;
        assert!(csrf_matches(&a, &csrf_token(&a)));
        assert!(!csrf_matches(&a, &csrf_token(&b)));
        assert!(!csrf_matches(&a, ""));
        assert!(!csrf_token(&a).contains(&a[4..]));
        assert_eq!(csrf_token(&a), csrf_token(&a));
    }

    #[test]
    fn cookies_are_found_among_others_and_across_headers() {
        let lines = ["theme=dark; ferroflow_session=ffp_abc_def", "ferroflow_csrf=\"123\""];
        assert_eq!(cookie(lines, SESSION_COOKIE), Some("ffp_abc_def"));
        assert_eq!(cookie(lines, CSRF_COOKIE), Some("123"));
        assert_eq!(cookie(lines, "missing"), None);
        assert_eq!(cookie(["ferroflow_session="], SESSION_COOKIE), None);
        assert_eq!(cookie(["xferroflow_session=1"], SESSION_COOKIE), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_behind_tls() {
        let [session, csrf] = set_cookies(Some("ffp_x_y"), true);
        assert!(session.starts_with("ferroflow_session=ffp_x_y;"));
        for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age=43200", "Path=/"] {
            assert!(session.contains(flag), "{session} lacks {flag}");
        }
        assert!(!csrf.contains("HttpOnly"), "the UI must read {csrf}");
        assert!(csrf.contains(&csrf_token("ffp_x_y")));
        let [session, csrf] = set_cookies(None, false);
        assert!(session.contains("Max-Age=0") && csrf.contains("Max-Age=0"));
        assert!(!session.contains("Secure"));
    }
}
