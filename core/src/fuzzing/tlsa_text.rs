//! `tlsa_text` target: TLSA presentation text (RFC 6698 sec. 2.2, RFC 7218 mnemonics) and
//! RDATA (RFC 6698 sec. 2.1).

/// Runs one case: presentation text parses, prints and parses back to the same record
/// (both the numeric and the RFC 7218 mnemonic forms), and RDATA round-trips.
pub fn run(data: &[u8]) {
    use crate::dane::TlsaRecord;
    let text = String::from_utf8_lossy(data);
    if let Ok(record) = text.parse::<TlsaRecord>() {
        let numeric = record.to_text();
        assert_eq!(
            numeric.parse::<TlsaRecord>().as_ref(),
            Ok(&record),
            "{numeric}"
        );
        let mnemonic = record.to_mnemonic();
        assert_eq!(
            mnemonic.parse::<TlsaRecord>().as_ref(),
            Ok(&record),
            "{mnemonic}"
        );
        assert_eq!(
            TlsaRecord::from_rdata(&record.to_rdata()).as_ref(),
            Ok(&record)
        );
    }
    if let Ok(record) = TlsaRecord::from_rdata(data) {
        assert_eq!(record.to_rdata(), data, "rdata round trip");
        // A 3-byte RDATA (empty association data) has no RFC 6698 presentation form: the
        // parser rejects `u s m` without data, as zone-file parsers do.
        if !record.data.is_empty() {
            let numeric = record.to_text();
            assert_eq!(
                numeric.parse::<TlsaRecord>().as_ref(),
                Ok(&record),
                "{numeric}"
            );
        }
    }
}
