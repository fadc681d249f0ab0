//! A certificate's subject as Kafka sees it: Java's `X500Principal.getName()`, the RFC 2253
//! form, from which Kafka builds an mTLS client's principal (`User:<name>`) before applying
//! `ssl.principal.mapping.rules`.
//!
//! The rules are Java's (`sun.security.x509.X500Name.getRFC2253Name`, `AVA.toRFC2253String`),
//! so that the same certificate yields the same principal on Sluice and on Kafka:
//! - RDNs most specific first (the reverse of their order in the certificate), joined by `,`;
//!   the values of a multi-valued RDN in their encoded order, joined by `+`.
//! - Attribute types by RFC 2253 keyword where it has one (`CN`, `C`, `L`, `ST`, `O`, `OU`,
//!   `STREET`, `DC`, `UID`), otherwise as a dotted OID (`1.2.840.113549.1.9.1` for an email
//!   address).
//! - A value of a string type (UTF8String, PrintableString, IA5String, T61String,
//!   GeneralString, BMPString) with an RFC 2253 keyword is text: each of `, = + < > # ; " \`
//!   gets a backslash, a NUL becomes `\00`, leading and trailing spaces (and CRs) get a
//!   backslash; every other character stays as it is. A value under a dotted OID or of
//!   another type is `#` and the lower-case hex of its whole DER encoding.
//!
//! Checked against OpenJDK 17 on certificates made by `openssl req` (escapes, leading and
//! trailing spaces, a multi-valued RDN, emailAddress, serialNumber, title, UTF-8 text): the
//! tests below pin the same outputs.

use x509_parser::asn1_rs::{Any, Tag, ToDer};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The RFC 2253 keywords Java knows, by dotted OID.
const KEYWORDS: [(&str, &str); 9] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// Characters that get a backslash wherever they are in a value (Java also escapes `=` and
/// every `#`, not only a leading one).
const ESCAPED: &str = ",=+<>#;\"\\";

/// The subject of a DER certificate in RFC 2253 form; `None` when the certificate does not
/// parse.
pub fn certificate_subject(certificate_der: &[u8]) -> Option<String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der).ok()?;
    Some(rfc2253(certificate.subject()))
}

/// `name` as Java's `X500Principal.getName()` prints it (see the module comment).
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(attribute_rfc2253)
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn attribute_rfc2253(attribute: &AttributeTypeAndValue<'_>) -> String {
    let oid = attribute.attr_type().to_id_string();
    let keyword = KEYWORDS
        .iter()
        .find(|(dotted, _)| *dotted == oid)
        .map(|(_, keyword)| *keyword);
    let value = attribute.attr_value();
    match (keyword, string_value(value)) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape(&text)),
        (keyword, _) => format!("{}=#{}", keyword.unwrap_or(&oid), der_hex(value)),
    }
}

/// The text of a value of one of the string types Java prints as text, decoded as Java's
/// `DerValue.getAsString` does (bytes it cannot decode become U+FFFD).
fn string_value(value: &Any<'_>) -> Option<String> {
    let data = value.data;
    let ascii = || {
        data.iter()
            .map(|&byte| {
                if byte < 0x80 {
                    byte as char
                } else {
                    '\u{FFFD}'
                }
            })
            .collect()
    };
    Some(match value.header.tag() {
        Tag::Utf8String => String::from_utf8_lossy(data).into_owned(),
        Tag::PrintableString | Tag::Ia5String | Tag::GeneralString => ascii(),
        // Java reads a T61String as ISO-8859-1.
        Tag::T61String => data.iter().map(|&byte| byte as char).collect(),
        Tag::BmpString => {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|pair| u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => return None,
    })
}

fn escape(text: &str) -> String {
    let mut escaped: Vec<char> = Vec::with_capacity(text.len());
    for character in text.chars() {
        if ESCAPED.contains(character) {
            escaped.extend(['\\', character]);
        } else if character == '\0' {
            escaped.extend(['\\', '0', '0']);
        } else {
            escaped.push(character);
        }
    }
    let blank = |character: &char| *character == ' ' || *character == '\r';
    let lead = escaped.iter().take_while(|c| blank(c)).count();
    let trail = escaped.len() - escaped.iter().rev().take_while(|c| blank(c)).count();
    let mut out = String::with_capacity(escaped.len() + 2);
    for (index, character) in escaped.into_iter().enumerate() {
        if index < lead || index >= trail {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

/// Lower-case hex of the value's DER encoding (header and contents).
fn der_hex(value: &Any<'_>) -> String {
    let der = value.to_der_vec().unwrap_or_else(|_| value.data.to_vec());
    der.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    /// DER: a tag, a short-form length, the contents.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        assert!(contents.len() < 128);
        let mut bytes = vec![tag, contents.len() as u8];
        bytes.extend_from_slice(contents);
        bytes
    }

    /// An attribute: the OID's DER contents and a value's tag and contents.
    fn attribute(oid: &[u8], value_tag: u8, value: &[u8]) -> Vec<u8> {
        tlv(0x30, &[tlv(0x06, oid), tlv(value_tag, value)].concat())
    }

    fn name(rdns: &[Vec<Vec<u8>>]) -> String {
        let rdns: Vec<u8> = rdns
            .iter()
            .flat_map(|attributes| tlv(0x31, &attributes.concat()))
            .collect();
        let der = tlv(0x30, &rdns);
        let (rest, name) = X509Name::from_der(&der).unwrap();
        assert!(rest.is_empty());
        rfc2253(&name)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    const UTF8: u8 = 0x0c;
    const PRINTABLE: u8 = 0x13;
    const IA5: u8 = 0x16;
    const BMP: u8 = 0x1e;

    #[test]
    fn the_most_specific_rdn_comes_first() {
        let subject = name(&[
            vec![attribute(C, PRINTABLE, b"US")],
            vec![attribute(O, UTF8, b"Acme")],
            vec![attribute(OU, UTF8, b"eng")],
            vec![attribute(CN, UTF8, b"client")],
        ]);
        assert_eq!(subject, "CN=client,OU=eng,O=Acme,C=US");
    }

    #[test]
    fn a_multi_valued_rdn_joins_its_values_with_plus_in_encoded_order() {
        let subject = name(&[
            vec![attribute(O, UTF8, b"Acme")],
            vec![attribute(OU, UTF8, b"eng"), attribute(CN, UTF8, b"client")],
        ]);
        assert_eq!(subject, "OU=eng+CN=client,O=Acme");
    }

    #[test]
    fn special_characters_are_escaped_as_java_does() {
        let subject = name(&[vec![attribute(CN, UTF8, b" a,b=c+d<e>f#g;h\"i\\j\0k ")]]);
        assert_eq!(subject, r#"CN=\ a\,b\=c\+d\<e\>f\#g\;h\"i\\j\00k\ "#);
        assert_eq!(
            name(&[vec![attribute(CN, UTF8, "Zoë Ünal".as_bytes())]]),
            "CN=Zoë Ünal"
        );
        assert_eq!(name(&[vec![attribute(CN, UTF8, b"  ")]]), r"CN=\ \ ");
    }

    #[test]
    fn types_without_a_keyword_and_other_value_types_are_hex() {
        let subject = name(&[
            vec![attribute(EMAIL, IA5, b"a@b")],
            vec![attribute(CN, 0x04, b"\x01\x02")],
        ]);
        assert_eq!(subject, "CN=#04020102,1.2.840.113549.1.9.1=#1603614062");
    }

    #[test]
    fn a_bmp_string_is_text() {
        assert_eq!(
            name(&[vec![attribute(CN, BMP, &[0x00, b'h', 0x00, b'i'])]]),
            "CN=hi"
        );
    }

    #[test]
    fn an_empty_name_is_empty() {
        assert_eq!(name(&[]), "");
    }
}
