//! Who is asking: the client's IP address (optionally from `X-Forwarded-For`) and user
//! agent, recorded with sessions and audit events and used as the throttling key.

use axum::extract::ConnectInfo;
use http::{header, HeaderMap};
use std::net::{IpAddr, SocketAddr};

/// Most user-agent characters kept with a session or an audit event.
const USER_AGENT_MAX_CHARS: usize = 256;

/// Where a request came from, recorded with sessions and audit events.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The user agent cut to what the sessions table keeps.
    pub fn user_agent_truncated(&self) -> Option<String> {
        self.user_agent
            .as_deref()
            .map(|ua| ua.chars().take(USER_AGENT_MAX_CHARS).collect())
    }

    /// The key this client is throttled under (see [`throttle_key`]), if its address is known.
    pub fn throttle_key(&self) -> Option<String> {
        self.ip.as_deref().map(throttle_key)
    }
}

/// Reads the client's address and user agent from a request head.
pub fn client_info(
    parts_headers: &HeaderMap,
    connect: Option<&ConnectInfo<SocketAddr>>,
    trust_proxy: bool,
) -> ClientInfo {
    let forwarded = trust_proxy.then(|| forwarded_for(parts_headers)).flatten();
    let ip = forwarded.or_else(|| connect.map(|c| canonical(c.0.ip())));
    let user_agent = parts_headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    ClientInfo {
        ip: ip.map(|ip| ip.to_string()),
        user_agent,
    }
}

/// The address the nearest proxy saw: the last valid entry of the last
/// `X-Forwarded-For` header. Entries to its left were written by the client and can
/// be forged, so they are ignored.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    entry.parse::<IpAddr>().ok().map(canonical)
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The key a client is throttled under: the IPv4 address, or the /64 network of an
/// IPv6 address (one subscriber usually holds a whole /64).
pub fn throttle_key(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// Same as [`client_info`] for a request.
pub fn of_request<B>(req: &http::Request<B>, trust_proxy: bool) -> ClientInfo {
    client_info(
        req.headers(),
        req.extensions().get::<ConnectInfo<SocketAddr>>(),
        trust_proxy,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn peer(ip: &str) -> ConnectInfo<SocketAddr> {
        ConnectInfo(SocketAddr::new(ip.parse().expect("ip"), 4000))
    }

    #[test]
    fn the_socket_address_is_used_unless_a_proxy_is_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        assert_eq!(
            client_info(&headers, Some(&peer("10.0.0.1")), false)
                .ip
                .as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            client_info(&headers, Some(&peer("10.0.0.1")), true).ip.as_deref(),
            Some("203.0.113.9")
        );
    }

    #[test]
    fn only_the_entry_the_proxy_appended_is_believed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 198.51.100.7"),
        );
        assert_eq!(
            client_info(&headers, Some(&peer("10.0.0.1")), true).ip.as_deref(),
            Some("198.51.100.7")
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(
            client_info(&headers, Some(&peer("10.0.0.1")), true).ip.as_deref(),
            Some("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64_bit_prefix() {
        assert_eq!(throttle_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(throttle_key("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
        assert_ne!(throttle_key("2001:db8:1:3::1"), throttle_key("2001:db8:1:2::1"));
        assert_eq!(throttle_key("192.0.2.4"), "192.0.2.4");
    }

    #[test]
    fn user_agents_are_cut_to_256_characters() {
        let client = ClientInfo {
            ip: None,
            user_agent: Some("é".repeat(1000)),
        };
        assert_eq!(
            client.user_agent_truncated().map(|ua| ua.chars().count()),
            Some(256)
        );
    }

    #[test]
    fn mapped_ipv4_addresses_count_as_ipv4() {
        let headers = HeaderMap::new();
        assert_eq!(
            client_info(&headers, Some(&peer("::ffff:192.0.2.4")), false)
                .ip
                .as_deref(),
            Some("192.0.2.4")
        );
    }
}
