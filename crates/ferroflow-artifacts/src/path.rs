//! [`ArtifactPath`]: a client-supplied artifact path, checked once so the rest of the crate can trust it.
//!
//! A path is relative, `/`-separated and made of plain names. Whatever a client sends is refused if it,
//! or any percent-decoding of it, could climb out of the root: `..` or `.` segments, a leading `/`, a
//! Windows drive, backslashes, NUL and other control characters. Decoding is repeated so double-encoded
//! forms (`%252e%252e`) are caught too; the name that is stored is the one the client sent.

use std::fmt;

use crate::error::{Error, Result};

/// Longest accepted path in bytes (S3 keys stop at 1024 with the destination prefix).
pub const MAX_PATH_BYTES: usize = 900;
/// Longest accepted segment in bytes (file-name limit of common filesystems).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Top-level name reserved for multipart-upload staging on local destinations.
pub(crate) const STAGING_DIR: &str = ".ferroflow-multipart";

/// How many rounds of percent-decoding are inspected.
const DECODE_ROUNDS: usize = 4;

/// A validated relative artifact path; empty means the root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArtifactPath {
    segments: Vec<String>,
}

impl ArtifactPath {
    /// The root of the destination.
    pub fn root() -> Self {
        Self::default()
    }

    /// Checks `raw` (already URL-decoded once by the HTTP layer). A trailing `/` is ignored; an empty
    /// string is the root.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] for anything that is not a plain relative path.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = || Error::InvalidPath(raw.to_owned());
        if raw.len() > MAX_PATH_BYTES {
            return Err(Error::InvalidPath(format!("{}... (longer than {MAX_PATH_BYTES} bytes)", prefix(raw, 64))));
        }
        let mut candidate = raw.to_owned();
        for _ in 0..DECODE_ROUNDS {
            check_shape(&candidate).map_err(|()| invalid())?;
            let decoded = percent_encoding::percent_decode_str(&candidate).decode_utf8_lossy().into_owned();
            if decoded == candidate {
                break;
            }
            candidate = decoded;
        }
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        let segments: Vec<String> =
            if trimmed.is_empty() { Vec::new() } else { trimmed.split('/').map(str::to_owned).collect() };
        if segments.iter().any(|s| s.len() > MAX_SEGMENT_BYTES) {
            return Err(Error::InvalidPath(format!(
                "{} (a name is longer than {MAX_SEGMENT_BYTES} bytes)",
                prefix(raw, 64)
            )));
        }
        if segments.first().is_some_and(|s| s == STAGING_DIR) {
            return Err(invalid());
        }
        Ok(Self { segments })
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The path's names, outermost first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The last name (`None` for the root).
    pub fn file_name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// This path with `name` appended; `name` must itself be a single valid segment.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] if `name` is not a plain file name.
    pub fn child(&self, name: &str) -> Result<Self> {
        let name_only = Self::parse(name)?;
        if name_only.segments.len() != 1 {
            return Err(Error::InvalidPath(name.to_owned()));
        }
        let mut segments = self.segments.clone();
        segments.extend(name_only.segments);
        Ok(Self { segments })
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("/"))
    }
}

/// The structural checks applied to the raw path and to each of its decodings.
fn check_shape(path: &str) -> std::result::Result<(), ()> {
    if path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return Err(());
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(());
    }
    let body = path.strip_suffix('/').unwrap_or(path);
    if body.is_empty() {
        return Ok(());
    }
    if body.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        return Err(());
    }
    Ok(())
}

fn prefix(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_are_kept_verbatim() {
        let path = ArtifactPath::parse("1/abc/artifacts/my model/data v1.json").unwrap();
        assert_eq!(path.segments().len(), 5);
        assert_eq!(path.file_name(), Some("data v1.json"));
        assert_eq!(path.to_string(), "1/abc/artifacts/my model/data v1.json");
        assert!(ArtifactPath::parse("").unwrap().is_root());
        assert_eq!(ArtifactPath::parse("a/b/").unwrap().to_string(), "a/b");
        // A literal percent sign that does not decode to anything dangerous is a legal name.
        assert_eq!(ArtifactPath::parse("100%.txt").unwrap().to_string(), "100%.txt");
        assert_eq!(ArtifactPath::parse("ünïcødé/ファイル.txt").unwrap().segments().len(), 2);
    }

    #[test]
    fn traversal_in_any_encoding_is_refused() {
        for raw in [
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            "./a",
            "/etc/passwd",
            "//etc/passwd",
            "a//b",
            "..\\..\\x",
            "a\\b",
            "a\0b",
            "a\nb",
            "C:/Windows",
            "c:x",
            "%2e%2e/x",
            "%2E%2E%2Fx",
            "..%2fx",
            "a%2f..%2f..%2fx",
            "%252e%252e/x",
            "%25252e%25252e/x",
            "%2fetc/passwd",
            "a%5c..%5cx",
            "a%00b",
            ".ferroflow-multipart/x",
        ] {
            assert!(matches!(ArtifactPath::parse(raw), Err(Error::InvalidPath(_))), "{raw:?} was accepted");
        }
    }

    #[test]
    fn long_paths_and_names_are_refused() {
        assert!(ArtifactPath::parse(&"a/".repeat(MAX_PATH_BYTES)).is_err());
        assert!(ArtifactPath::parse(&"n".repeat(MAX_SEGMENT_BYTES + 1)).is_err());
        assert!(ArtifactPath::parse(&"n".repeat(MAX_SEGMENT_BYTES)).is_ok());
    }

    #[test]
    fn child_takes_one_plain_name() {
        let dir = ArtifactPath::parse("1/run").unwrap();
        assert_eq!(dir.child("model.pkl").unwrap().to_string(), "1/run/model.pkl");
        assert!(dir.child("../x").is_err());
        assert!(dir.child("a/b").is_err());
        assert!(dir.child("").is_err());
    }
}
