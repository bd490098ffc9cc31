//! The CRC key hashes: twemproxy's `crc16` (as of 0.5.0), `crc32` (libmemcached's
//! 15-bit variant) and `crc32a` (the standard CRC-32).
//!
//! Tables are computed at compile time from the polynomials instead of pasted in.

/// Reflected CRC-32 (IEEE 802.3) polynomial.
const CRC32_POLY: u32 = 0xedb8_8320;
/// CRC-16/XMODEM (CCITT) polynomial, most significant bit first: twemproxy 0.5.0's
/// table. (Later twemproxy switched to a CRC-16/ARC table; 0.5.0 is what Debian
/// ships and what the golden tables were recorded from.)
const CRC16_POLY: u16 = 0x1021;

const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC32_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ CRC16_POLY
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc32_raw(key: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in key {
        crc = (crc >> 8) ^ CRC32_TABLE[((crc ^ u32::from(b)) & 0xff) as usize];
    }
    !crc
}

/// twemproxy's `crc32`: libmemcached's variant, which keeps only bits 16..31 of the
/// CRC, masked to 15 bits. Only 32768 distinct values: fine for modula, coarse for
/// ketama, but that is what existing pools use.
pub fn crc32(key: &[u8]) -> u32 {
    (crc32_raw(key) >> 16) & 0x7fff
}

/// twemproxy's `crc32a`: the standard CRC-32 of the key.
pub fn crc32a(key: &[u8]) -> u32 {
    crc32_raw(key)
}

/// twemproxy 0.5.0's `crc16`: CRC-16/XMODEM, except that the state is a 32-bit
/// integer never masked back to 16 bits, so bits shifted past 16 stay in the result.
/// The low 16 bits are the XMODEM CRC.
pub fn crc16(key: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in key {
        crc = (crc << 8) ^ u32::from(CRC16_TABLE[(((crc >> 8) ^ u32::from(b)) & 0xff) as usize]);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The catalogue "check" value for each CRC: the CRC of "123456789".
        assert_eq!(crc32a(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc16(b"123456789") & 0xffff, 0x31c3);
        // The unmasked state: long keys hash past 16 bits.
        assert!(crc16(b"123456789") > 0xffff);
        assert_eq!(crc32(b"123456789"), (0xcbf4_3926 >> 16) & 0x7fff);
        // Spot-check the generated tables against the entries twemproxy ships.
        assert_eq!(CRC32_TABLE[1], 0x7707_3096);
        assert_eq!(CRC32_TABLE[255], 0x2d02_ef8d);
        assert_eq!(CRC16_TABLE[1], 0x1021);
        assert_eq!(CRC16_TABLE[255], 0x1ef0);
    }
}
