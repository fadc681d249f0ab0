//! CRC32C (Castagnoli), the checksum of Kafka record batch v2.
//!
//! One place for the checksum so every caller gets the hardware path: the `crc32c` crate
//! uses SSE 4.2 / ARMv8 CRC instructions when the CPU has them (detected at run time) and
//! a table-driven software path otherwise.

/// CRC32C of `bytes`.
#[inline]
pub fn crc32c(bytes: &[u8]) -> u32 {
    ::crc32c::crc32c(bytes)
}

/// Continues a CRC32C over `bytes` from a previous `crc`, so a checksum can be computed
/// over data that arrives in pieces: `crc32c_append(crc32c(a), b) == crc32c(a ++ b)`.
#[inline]
pub fn crc32c_append(crc: u32, bytes: &[u8]) -> u32 {
    ::crc32c::crc32c_append(crc, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value_of_the_digits_one_to_nine() {
        // The standard "check" value of CRC-32C (Castagnoli) in the catalogue of CRCs.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn empty_input_has_crc_zero() {
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn rfc_3720_iscsi_test_vectors() {
        // RFC 3720 appendix B.4: CRC32C results for 32-byte patterns.
        let zeros = [0u8; 32];
        let ones = [0xFFu8; 32];
        let ascending: Vec<u8> = (0u8..32).collect();
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&zeros), 0x8A91_36AA);
        assert_eq!(crc32c(&ones), 0x62A8_AB43);
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        assert_eq!(crc32c(&descending), 0x113F_DB5C);
    }

    #[test]
    fn appending_pieces_equals_checksum_of_the_whole() {
        let whole: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for split in [0, 1, 7, 4096, 9_999, 10_000] {
            let (head, tail) = whole.split_at(split);
            assert_eq!(
                crc32c_append(crc32c(head), tail),
                crc32c(&whole),
                "split at {split}"
            );
        }
    }
}
