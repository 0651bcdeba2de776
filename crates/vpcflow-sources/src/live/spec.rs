//! What one live capture is: [`CaptureSpec`], its defaults, and how often
//! the kernel's drop counters are read.

use std::time::Duration;

/// How often the kernel's drop counters are read.
pub const STATS_PERIOD: Duration = Duration::from_secs(1);

/// Snap length by default: enough for Ethernet, VLAN tags, a tunnel and IPv6
/// with extension headers in front of the transport header.
pub const DEFAULT_SNAPLEN: u32 = 256;

/// Kernel buffer (ring) size by default, in bytes.
pub const DEFAULT_BUFFER_BYTES: u32 = 8 << 20;

/// One configured capture: an interface name or a name pattern, and how to
/// capture on the interfaces it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSpec {
    /// An interface name, or a pattern with `*` (any run of characters) and
    /// `?` (any one character).
    pub name: String,
    /// A BPF filter expression (tcpdump syntax); `None`: everything.
    pub filter: Option<String>,
    /// Put the interface in promiscuous mode.
    pub promisc: bool,
    /// Bytes captured of each frame (the headers are enough).
    pub snaplen: u32,
    /// Kernel buffer (ring) size in bytes.
    pub buffer_bytes: u32,
}

impl CaptureSpec {
    /// A capture of `name` with the defaults: no filter, not promiscuous,
    /// [`DEFAULT_SNAPLEN`], [`DEFAULT_BUFFER_BYTES`].
    pub fn new(name: impl Into<String>) -> CaptureSpec {
        CaptureSpec {
            name: name.into(),
            filter: None,
            promisc: false,
            snaplen: DEFAULT_SNAPLEN,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
        }
    }

    /// Whether the name is a pattern (contains `*` or `?`).
    pub fn is_pattern(&self) -> bool {
        self.name.contains(['*', '?'])
    }
}

/// Compiles `filter` (tcpdump syntax) for an Ethernet capture, as libpcap
/// will when the capture opens: a syntax error is found before anything
/// runs (a filter valid for Ethernet can still be refused by an interface of
/// another link type when it opens).
pub fn check_filter(filter: &str) -> Result<(), String> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| e.to_string())?;
    dead.compile(filter, true)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_filter;

    #[test]
    fn filters_are_compiled() {
        assert!(check_filter("ip or ip6").is_ok());
        assert!(check_filter("tcp port 80 and not host 10.0.0.1").is_ok());
        let e = check_filter("ip or or").unwrap_err();
        assert!(e.contains("syntax error"), "{e}");
        assert!(check_filter("port 99999").is_err());
    }
}
