//! The client's address when the server sits behind load balancers or reverse proxies.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (none by default).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trusts these addresses and blocks.
    #[must_use]
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// Parses an address (standing for itself alone) or a CIDR block.
    ///
    /// # Errors
    /// A message naming the text.
    pub fn parse_one(text: &str) -> Result<IpNet, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("'{text}' is neither an IP address nor a CIDR block (such as 10.0.0.0/8)"))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy. Then it is the nearest
    /// address in `X-Forwarded-For` (read from the right, as each proxy appends the address it was
    /// called from) that is not a trusted proxy, or the farthest when all are. An entry that is not
    /// an address ends the walk, since nothing beyond it can be believed.
    #[must_use]
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = parse_hop(hop) else { break };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`[v6]:port` or `v4:port`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| TrustedProxies::parse_one(n).unwrap()).collect())
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn client(trusted: &TrustedProxies, peer: &str, values: &[&str]) -> String {
        trusted.client(Some(peer.parse().unwrap()), &forwarded(values)).unwrap().to_string()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(client(&TrustedProxies::default(), "203.0.113.9", &["198.51.100.1"]), "203.0.113.9");
    }

    #[test]
    fn behind_a_trusted_balancer_the_client_is_the_last_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&trusted, "10.0.3.4", &["198.51.100.7"]), "198.51.100.7");
        // A forged entry on the left is not believed: the balancer appended the real address.
        assert_eq!(client(&trusted, "10.0.3.4", &["1.2.3.4, 198.51.100.7"]), "198.51.100.7");
        // Several proxies of ours, over several header lines.
        assert_eq!(client(&trusted, "10.0.3.4", &["198.51.100.7, 10.1.1.1", "10.2.2.2"]), "198.51.100.7");
        // An untrusted peer's header means nothing.
        assert_eq!(client(&trusted, "198.51.100.50", &["10.9.9.9"]), "198.51.100.50");
    }

    #[test]
    fn odd_entries_stop_the_walk_and_ports_and_mapped_addresses_are_understood() {
        let trusted = proxies(&["10.0.0.1", "fd00::/8"]);
        assert_eq!(client(&trusted, "10.0.0.1", &["198.51.100.7, unknown"]), "10.0.0.1");
        assert_eq!(client(&trusted, "10.0.0.1", &[]), "10.0.0.1");
        assert_eq!(client(&trusted, "::ffff:10.0.0.1", &["198.51.100.7:5123"]), "198.51.100.7");
        assert_eq!(client(&trusted, "fd00::2", &["[2001:db8::1]:443"]), "2001:db8::1");
        assert_eq!(client(&trusted, "10.0.0.1", &["10.0.0.1"]), "10.0.0.1", "all trusted: the farthest");
    }

    #[test]
    fn proxies_parse_as_addresses_or_blocks() {
        assert!(TrustedProxies::parse_one("10.0.0.0/8").is_ok());
        assert!(TrustedProxies::parse_one(" 192.0.2.1 ").is_ok());
        assert!(TrustedProxies::parse_one("2001:db8::/32").is_ok());
        let err = TrustedProxies::parse_one("balancer.internal").unwrap_err();
        assert!(err.contains("'balancer.internal'"), "{err}");
    }
}
