//! Making tracee-controlled bytes safe to show. Paths come from the traced process and may hold
//! newlines, terminal escape sequences or invalid UTF-8; nothing it does may move the cursor,
//! inject colour or break a line of output. Text uses strace's C-style escapes; JSON keeps a
//! lossy string plus the exact bytes in hex when they are not valid UTF-8.

use std::fmt::Write;

/// True for characters that must never reach a terminal raw: C0/C1 controls, DEL, and the
/// bidirectional overrides that can make text display in another order than it is stored.
fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Append `bytes` as the inside of a C string literal: `\n`, `\t`, `\"`, `\\`, `\x1b`, and
/// `\xff` for each byte of invalid UTF-8. Valid printable UTF-8 stays as it is.
pub fn escape_into(out: &mut String, bytes: &[u8]) {
    escape_with(out, bytes, true);
}

/// `quotes`: inside a quoted string, where `"` and `\` are escaped so that it stays one
/// string; free text (a note, a configuration line) shows them as they are.
fn escape_with(out: &mut String, bytes: &[u8], quotes: bool) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '"' if quotes => out.push_str("\\\""),
                '\\' if quotes => out.push_str("\\\\"),
                c if dangerous(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// `bytes` as a quoted, escaped string: `"/tmp/new\nline"`.
pub fn quoted(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    escape_into(&mut s, bytes);
    s.push('"');
    s
}

/// Escaped, without quotes.
pub fn escaped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    escape_into(&mut s, bytes);
    s
}

/// Free text (a note, a reason, a configuration line) made safe for one line of a terminal:
/// controls and invalid UTF-8 escaped as by [`escaped`], but `"` and `\` left as written, so
/// that `Alias /assets/ "/srv/assets/"` reads as it stands in the file.
pub fn text(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    escape_with(&mut s, bytes, false);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invalid_utf8_are_escaped() {
        assert_eq!(quoted(b"/a\nb"), r#""/a\nb""#);
        assert_eq!(quoted(b"esc\x1b[31mred"), r#""esc\x1b[31mred""#);
        assert_eq!(quoted(b"bad\xff\xfe"), r#""bad\xff\xfe""#);
        assert_eq!(quoted(b"q\"b\\"), r#""q\"b\\""#);
        assert_eq!(quoted("caf\u{e9}".as_bytes()), "\"caf\u{e9}\"");
        // C1 control CSI (U+009B) and a bidi override are escaped too.
        assert_eq!(escaped("a\u{9b}b".as_bytes()), r"a\xc2\x9bb");
        assert_eq!(escaped("a\u{202e}b".as_bytes()), r"a\xe2\x80\xaeb");
    }

    #[test]
    fn escaped_text_has_no_control_bytes() {
        let all: Vec<u8> = (0..=255u8).collect();
        let s = escaped(&all);
        assert!(!s.bytes().any(|b| b < 0x20 || b == 0x7f));
        let s = text(&all);
        assert!(!s.bytes().any(|b| b < 0x20 || b == 0x7f));
    }

    #[test]
    fn free_text_keeps_its_quotes_and_backslashes() {
        assert_eq!(
            text(br#"Alias /assets/ "/srv/a\b/""#),
            r#"Alias /assets/ "/srv/a\b/""#
        );
        assert_eq!(text(b"a\n\x1b[31m\xff"), r"a\n\x1b[31m\xff");
        assert_eq!(text("a\u{202e}b".as_bytes()), r"a\xe2\x80\xaeb");
    }
}
