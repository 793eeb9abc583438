//! ferroflow's web UI, embedded: the bundle of `web/` (built by build.rs), each file with its
//! gzip form. The server crate serves it; nothing here knows about HTTP.

/// One file of the bundle.
#[derive(Debug)]
pub struct Asset {
    /// Path inside the bundle: `index.html`, `assets/index-<hash>.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The body gzip-compressed, where that makes it smaller.
    pub gzip: Option<&'static [u8]>,
}

impl Asset {
    /// Whether the file's name carries a hash of its contents, so that it can be cached for good.
    #[must_use]
    pub fn is_immutable(&self) -> bool {
        self.path.starts_with("assets/")
    }
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The file at `path` inside the bundle.
#[must_use]
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.binary_search_by(|asset| asset.path.cmp(path)).ok().map(|i| &ASSETS[i])
}

/// The page that loads the UI; `None` when the binary was built without it.
#[must_use]
pub fn index() -> Option<&'static Asset> {
    asset("index.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_sorted_for_lookup() {
        assert!(ASSETS.windows(2).all(|pair| pair[0].path < pair[1].path));
    }

    #[cfg(feature = "bundle")]
    #[test]
    fn the_bundle_has_its_page_and_every_file_it_loads() {
        let page = std::str::from_utf8(index().expect("index.html is embedded").body).unwrap();
        let mut loaded = 0;
        for reference in page.split(['"', '\'']).filter(|part| part.starts_with("./assets/")) {
            let asset = asset(&reference[2..]).unwrap_or_else(|| panic!("{reference} is not embedded"));
            assert!(asset.is_immutable());
            loaded += 1;
        }
        assert!(loaded > 0, "index.html loads no script: {page}");
    }
}
