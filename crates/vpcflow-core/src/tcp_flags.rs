//! TCP flags as VPC Flow Logs report them (spec §2.7).

/// The OR of the TCP flags AWS reports: FIN 1, SYN 2, RST 4, and 16 (ACK) only
/// together with SYN, so SYN-ACK reads 18.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct TcpFlags(pub u8);

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

impl TcpFlags {
    /// No supported flag seen.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// The AWS value of one packet, from the flags byte of its TCP header
    /// (byte 13: CWR ECE URG ACK PSH RST SYN FIN).
    #[inline]
    pub fn from_tcp_header_byte(raw: u8) -> TcpFlags {
        let mut v = raw & (FIN | SYN | RST);
        if raw & SYN != 0 && raw & ACK != 0 {
            v |= ACK;
        }
        TcpFlags(v)
    }

    /// OR-combine the flags of two packets or records.
    #[inline]
    pub fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// The numeric value written in the `tcp-flags` field.
    pub fn value(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_values() {
        assert_eq!(TcpFlags::from_tcp_header_byte(0x02).value(), 2); // SYN
        assert_eq!(TcpFlags::from_tcp_header_byte(0x12).value(), 18); // SYN-ACK
        assert_eq!(TcpFlags::from_tcp_header_byte(0x10).value(), 0); // ACK only
        assert_eq!(TcpFlags::from_tcp_header_byte(0x11).value(), 1); // FIN-ACK
        assert_eq!(TcpFlags::from_tcp_header_byte(0x04).value(), 4); // RST
        assert_eq!(TcpFlags::from_tcp_header_byte(0x14).value(), 4); // RST-ACK
        assert_eq!(TcpFlags::from_tcp_header_byte(0x42).value(), 2); // SYN+ECE
        assert_eq!(TcpFlags::from_tcp_header_byte(0x18).value(), 0); // PSH-ACK
        assert_eq!(TcpFlags::from_tcp_header_byte(0xff).value(), 23);
    }

    #[test]
    fn short_connection_ors_to_documented_values() {
        let client = [0x02, 0x10, 0x18, 0x11, 0x10]
            .into_iter()
            .map(TcpFlags::from_tcp_header_byte)
            .fold(TcpFlags::NONE, TcpFlags::union);
        let server = [0x12, 0x18, 0x11]
            .into_iter()
            .map(TcpFlags::from_tcp_header_byte)
            .fold(TcpFlags::NONE, TcpFlags::union);
        assert_eq!(client.value(), 3);
        assert_eq!(server.value(), 19);
    }
}
