//! NDJSON (one JSON object per line) in, as the JSON array the put path already takes.
//!
//! A raw newline cannot occur inside a JSON string, so valid NDJSON splits at `\n` exactly. Each
//! line is checked to be one balanced object (its braces close at its last byte, its strings are
//! closed) before the lines are joined with commas: otherwise two broken lines could join into
//! records that neither line holds. The values inside are checked by the decoder as for any put;
//! when that fails, `first_bad_line` parses line by line to name the line.

use crate::error::{Error, Result};

const MIB: usize = 1024 * 1024;

fn fmt_bytes(n: usize) -> String {
    if n >= MIB {
        format!("{:.1} MiB ({n} bytes)", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}

/// The lines of `input` that hold a record: `(1-based line number, bytes without the line end)`.
/// Blank lines are skipped; a UTF-8 byte order mark before the first line is ignored.
pub fn ndjson_lines(input: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut ends = memchr::memchr_iter(b'\n', input);
    let (mut start, mut no) = (0usize, 0usize);
    std::iter::from_fn(move || loop {
        if start > input.len() {
            return None;
        }
        let end = ends.next().unwrap_or(input.len());
        let line = input[start..end].trim_ascii();
        start = end + 1;
        no += 1;
        if !line.is_empty() {
            return Some((no, line));
        }
    })
}

/// Why `line` is not one balanced JSON object, if it is not. Strings are skipped with `memchr`
/// (most of a record's bytes are inside strings); only the bytes between them are looked at.
fn shape_error(line: &[u8]) -> Option<&'static str> {
    if line[0] != b'{' {
        return Some("a line must hold one JSON object");
    }
    let n = line.len();
    let mut depth = 0usize;
    let mut i = 0;
    while i < n {
        match line[i] {
            b'"' => {
                let mut j = i + 1;
                loop {
                    let Some(k) = line.get(j..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                        return Some("unterminated string");
                    };
                    // JSON.parse refuses these too; the decoder would store them as they are.
                    let end = if line[j + k] == b'\\' { (j + k + 2).min(n) } else { j + k };
                    if line[j..end].iter().any(|&b| b < 0x20) {
                        return Some("a control character inside a string (JSON needs it escaped: \\t, \\u0001)");
                    }
                    if line[j + k] == b'"' {
                        i = j + k;
                        break;
                    }
                    j += k + 2; // the escaped byte is never the string's end
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = match depth.checked_sub(1) {
                    Some(d) => d,
                    None => return Some("unbalanced brackets"),
                };
                if depth == 0 && i + 1 != n {
                    return Some("text after the object (one object per line)");
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        Some("unterminated object (a record cannot span lines)")
    } else {
        None
    }
}

/// Writes `input`'s records into `out` as one JSON array (`[l1,l2,...]`) and returns how many
/// there are. Refuses, naming the line, a line that is not one balanced object or that is
/// longer than `max_line_bytes`.
pub fn ndjson_to_array(input: &[u8], max_line_bytes: usize, out: &mut Vec<u8>) -> Result<usize> {
    // Bytes from a Uint8Array need not be UTF-8; the decoder would refuse them at flush time.
    if let Err(e) = std::str::from_utf8(input) {
        let line = memchr::memchr_iter(b'\n', &input[..e.valid_up_to()]).count() + 1;
        return Err(line_error(line, "bytes that are not UTF-8"));
    }
    out.clear();
    out.reserve(input.len() + 2);
    out.push(b'[');
    let mut n = 0;
    for (no, line) in ndjson_lines(input) {
        if line.len() > max_line_bytes {
            return Err(Error::invalid_record(format!(
                "line {no} is {} of JSON, over maxRecordBytes {}; nothing of this call was stored",
                fmt_bytes(line.len()),
                fmt_bytes(max_line_bytes)
            )));
        }
        if let Some(why) = shape_error(line) {
            return Err(line_error(no, why));
        }
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(line);
        n += 1;
    }
    out.push(b']');
    Ok(n)
}

/// The first line of `input` that does not parse as a JSON object, as an error naming it.
pub fn first_bad_line(input: &[u8]) -> Option<Error> {
    ndjson_lines(input).find_map(|(no, line)| match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(_) => Some(line_error(no, "a line must hold one JSON object")),
        Err(e) => Some(line_error(no, &e.to_string())),
    })
}

fn line_error(no: usize, why: &str) -> Error {
    Error::invalid_record(format!("line {no}: {why}; nothing of this call was stored"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(s: &str) -> Result<(usize, String)> {
        let mut out = Vec::new();
        let n = ndjson_to_array(s.as_bytes(), 1 << 20, &mut out)?;
        Ok((n, String::from_utf8(out).unwrap()))
    }

    #[test]
    fn joins_lines_skipping_blank_ones_and_line_ends() {
        assert_eq!(
            array("{\"a\":1}\r\n\n  {\"a\":\"x\\\"}\"}\n").unwrap(),
            (2, "[{\"a\":1},{\"a\":\"x\\\"}\"}]".into())
        );
        assert_eq!(array("\u{feff}{\"a\":[1,{\"b\":2}]}").unwrap(), (1, "[{\"a\":[1,{\"b\":2}]}]".into()));
        assert_eq!(array("{\"a\":\"\\\\\"}\n").unwrap(), (1, "[{\"a\":\"\\\\\"}]".into()));
        // Tabs and carriage returns between tokens are whitespace; only inside strings they are not.
        assert_eq!(array("{\"a\":\"x\"\t,\r\"b\":\t1}").unwrap(), (1, "[{\"a\":\"x\"\t,\r\"b\":\t1}]".into()));
        assert_eq!(array("").unwrap(), (0, "[]".into()));
        assert_eq!(array("\n \n").unwrap(), (0, "[]".into()));
    }

    #[test]
    fn refuses_lines_that_are_not_one_object_naming_the_line() {
        for (text, line) in [
            ("{\"a\":1}\n[1]", 2),
            ("{\"a\":1}\n{\"a\":\"x\ty\"}", 2),
            ("{\"a\":{\"b\":[\"\u{1}\"]}}", 1),
            ("{\"a\":\"x\\\u{1f}\"}", 1),
            ("{\"a\":\"\n\"}", 1),
            ("{\"a\":1}\n{\"a\":\"\n\"}, {\"b\":1}", 2),
            ("{\"a\":1},{\"b\":2}", 1),
            ("{\"a\":1}\n\n{\"a\":{}", 3),
            ("{\"a\":1}}", 1),
            ("1", 1),
            ("{\"a\":\"x\\", 1),
            ("{\"a\":\"x\\\"}", 1),
            ("{\"a\":\"\\\\\"}}", 1),
        ] {
            let e = array(text).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidRecord, "{text:?}");
            assert!(e.message.starts_with(&format!("line {line}:")), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn refuses_bytes_that_are_not_utf8_naming_the_line() {
        let mut out = Vec::new();
        let e = ndjson_to_array(b"{\"a\":1}\n\n{\"a\":\"\xff\"}\n", 1 << 20, &mut out).unwrap_err();
        assert!(e.message.starts_with("line 3: bytes that are not UTF-8"), "{}", e.message);
    }

    #[test]
    fn refuses_a_line_over_the_limit() {
        let mut out = Vec::new();
        let e = ndjson_to_array(b"{\"a\":1}\n{\"a\":\"0123456789\"}", 10, &mut out).unwrap_err();
        assert!(e.message.starts_with("line 2 is 18 bytes of JSON, over maxRecordBytes 10 bytes"), "{}", e.message);
    }

    #[test]
    fn names_the_first_line_that_does_not_parse() {
        assert_eq!(
            first_bad_line(b"{\"a\":1}\n{\"a\":tru}\n{\"a\":x}").unwrap().message.split(':').next(),
            Some("line 2")
        );
        assert!(first_bad_line(b"{\"a\":1}\n\n{\"b\":[]}").is_none());
    }
}
