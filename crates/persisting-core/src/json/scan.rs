//! The byte scan of one JSON array of records (`JSON.stringify`d, or NDJSON lines joined): splits
//! it in place into newline-separated rows and checks the top-level keys and value kinds against
//! the current schema.
//!
//! Rows the scan passes as flat and fitting are buffered undecoded and decoded at flush time, so
//! at the top level of a row the scan is a strict JSON validator: separators, literals, the
//! number grammar (and range) and string escapes. Anything it let through that the decoder then
//! refused would fail a flush after the put was acknowledged. Nested values are only skipped
//! over; rows holding one are decoded during the put, where the decoder checks them.

use arrow_schema::{DataType, Schema};

use crate::error::{Error, Result};

/// Kinds of a top-level value, as far as a byte scan can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Obj,
    Arr,
}

pub struct SplitRows {
    pub rows: usize,
    /// True when every top-level key and value kind fits `schema`, so a strict decode is enough.
    pub fits_schema: bool,
    /// True when no row holds a nested value, a `\u` escape or an integer too long for Int64:
    /// then `fits_schema` alone guarantees that a strict decode succeeds, and decoding can be
    /// deferred (off the caller's thread) without a later error losing acknowledged rows.
    pub flat: bool,
}

/// Rewrites a JSON array of objects (`[{..},{..}]`) in place into rows separated by newlines
/// and counts them. Rejects anything that is not an array of objects.
pub fn split_rows(buf: &mut [u8], schema: Option<&Schema>) -> Result<SplitRows> {
    let n = buf.len();
    let mut i = skip_ws(buf, 0);
    if i >= n || buf[i] != b'[' {
        return Err(Error::invalid_record("expected a JSON array of records"));
    }
    buf[i] = b' ';
    i += 1;
    let mut rows = 0usize;
    let mut fits = schema.is_some();
    let mut flat = true;
    let fields: Vec<SchemaSlot> = schema
        .map(|s| {
            s.fields()
                .iter()
                .map(|f| SchemaSlot {
                    name: f.name().as_bytes(),
                    dt: f.data_type(),
                    has_int: has_int(f.data_type()),
                    typed: f.metadata().contains_key(super::TYPED_ARRAY_KEY),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut after_row = false;
    loop {
        i = skip_ws(buf, i);
        if i >= n {
            return Err(Error::invalid_record("unterminated JSON array"));
        }
        match buf[i] {
            b']' if after_row || rows == 0 => {
                buf[i] = b' ';
                let end = skip_ws(buf, i + 1);
                if end != n {
                    return Err(Error::invalid_record("trailing bytes after the JSON array"));
                }
                return Ok(SplitRows { rows, fits_schema: fits, flat });
            }
            b',' if after_row => {
                buf[i] = b'\n';
                i += 1;
                after_row = false;
            }
            b'{' if !after_row => {
                rows += 1;
                i = scan_object_row(buf, i, &fields, &mut fits, &mut flat)?;
                after_row = true;
            }
            _ if after_row => {
                return Err(Error::invalid_record(format!("expected ',' or ']' after record {}", rows - 1)))
            }
            _ => return Err(Error::invalid_record(format!("record {rows} is not a JSON object"))),
        }
    }
}

/// One top-level field of the schema, as the scan needs it.
struct SchemaSlot<'a> {
    name: &'a [u8],
    dt: &'a DataType,
    /// Holds Int64 somewhere: a nested non-integer must then take the checked path, because
    /// arrow-json's strict decode truncates `2.5` into an Int64 slot instead of failing.
    has_int: bool,
    /// A vector column of typed arrays (`TYPED_ARRAY_KEY`): a JSON array there takes the checked
    /// path, which refuses it (reads must give back what was put).
    typed: bool,
}

fn has_int(dt: &DataType) -> bool {
    match dt {
        DataType::Int64 => true,
        DataType::Struct(f) => f.iter().any(|c| has_int(c.data_type())),
        DataType::List(c) | DataType::LargeList(c) | DataType::FixedSizeList(c, _) => has_int(c.data_type()),
        _ => false,
    }
}

fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && matches!(buf[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// Scans one `{...}` row starting at `start`; returns the index after it.
fn scan_object_row(buf: &[u8], start: usize, fields: &[SchemaSlot], fits: &mut bool, flat: &mut bool) -> Result<usize> {
    let mut i = skip_ws(buf, start + 1);
    if buf.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    let mut pos = 0usize;
    loop {
        if buf.get(i) != Some(&b'"') {
            return Err(Error::invalid_record("malformed record: expected a key"));
        }
        let key_start = i + 1;
        let (key_end, escaped) = scan_string(buf, i)?;
        let key = &buf[key_start..key_end - 1];
        i = skip_ws(buf, key_end);
        if i >= buf.len() || buf[i] != b':' {
            return Err(Error::invalid_record("malformed record: expected ':'"));
        }
        i = skip_ws(buf, i + 1);
        let (kind, end, value_escaped, wide) = scan_value(buf, i)?;
        if *flat {
            *flat = match kind {
                Kind::Obj | Kind::Arr => false,
                // Lone surrogates (`\ud800`) fail a strict decode: such rows decode at once.
                Kind::Str => !value_escaped || !buf[i..end].windows(2).any(|w| w == b"\\u"),
                // i64 holds every 18-digit integer; longer ones take the checked path.
                Kind::Int => end - i <= 18,
                _ => true,
            };
        }
        if *fits {
            // Rows usually repeat the schema's key order, so try the expected slot first.
            let field = if escaped {
                None
            } else if pos < fields.len() && fields[pos].name == key {
                Some(&fields[pos])
            } else {
                fields.iter().find(|f| f.name == key)
            };
            pos += 1;
            *fits = match field {
                Some(f) => kind_fits(kind, f.dt) && !(wide && f.has_int) && !(f.typed && matches!(kind, Kind::Arr)),
                None => false,
            };
        }
        i = skip_ws(buf, end);
        match buf.get(i) {
            Some(b',') => i = skip_ws(buf, i + 1),
            Some(b'}') => return Ok(i + 1),
            _ => return Err(Error::invalid_record("malformed record: expected ',' or '}' after a value")),
        }
    }
}

fn kind_fits(kind: Kind, dt: &DataType) -> bool {
    match kind {
        Kind::Null => true,
        Kind::Bool => matches!(dt, DataType::Boolean),
        Kind::Int => matches!(dt, DataType::Int64 | DataType::Float64),
        Kind::Float => matches!(dt, DataType::Float64),
        Kind::Str => matches!(dt, DataType::Utf8 | DataType::LargeUtf8),
        Kind::Obj => matches!(dt, DataType::Struct(_)),
        Kind::Arr => matches!(dt, DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)),
    }
}

/// Returns (index after the closing quote, whether the string had escapes). Refuses an escape
/// JSON does not have (`\x`, a `\u` without four hex digits).
fn scan_string(buf: &[u8], start: usize) -> Result<(usize, bool)> {
    let mut i = start + 1;
    let mut escaped = false;
    // Strings are most of the bytes of a typical record: jump between quotes and backslashes.
    while i < buf.len() {
        match memchr::memchr2(b'"', b'\\', &buf[i..]) {
            Some(k) if buf[i + k] == b'"' => return Ok((i + k + 1, escaped)),
            Some(k) => {
                escaped = true;
                let e = i + k + 1;
                i = match buf.get(e) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => e + 1,
                    Some(b'u') if buf.get(e + 1..e + 5).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => e + 5,
                    Some(_) => return Err(Error::invalid_record("invalid escape in a string")),
                    None => break,
                };
            }
            None => break,
        }
    }
    Err(Error::invalid_record("unterminated string"))
}

/// A JSON number at `i`: its kind and the index after it. Refuses what the grammar does not
/// allow (`+1`, `.5`, `5.`, `01`, `1e`) and numbers beyond the float range (`1e400`).
fn scan_number(buf: &[u8], i: usize) -> Result<(Kind, usize)> {
    let bad = || Error::invalid_record("malformed number");
    let digits = |mut j: usize| {
        while j < buf.len() && buf[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut j = i + usize::from(buf.get(i) == Some(&b'-'));
    match buf.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = digits(j),
        _ => return Err(bad()),
    }
    let mut float = false;
    let mut exponent = false;
    if buf.get(j) == Some(&b'.') {
        float = true;
        let k = digits(j + 1);
        if k == j + 1 {
            return Err(bad());
        }
        j = k;
    }
    if matches!(buf.get(j), Some(b'e' | b'E')) {
        float = true;
        exponent = true;
        j += 1 + usize::from(matches!(buf.get(j + 1), Some(b'+' | b'-')));
        let k = digits(j);
        if k == j {
            return Err(bad());
        }
        j = k;
    }
    // Only an exponent or hundreds of digits can leave the float range; the decoder would
    // store such a number as null.
    if exponent || j - i > 300 {
        let text = std::str::from_utf8(&buf[i..j]).map_err(|_| bad())?;
        if !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(Error::invalid_record(format!("number {text} is out of range")));
        }
    }
    Ok((if float { Kind::Float } else { Kind::Int }, j))
}

/// Returns the kind, the index after the value, whether a string value had escapes, and
/// whether a nested value holds a number that may not be an Int64 (fraction, exponent, or
/// more than 18 digits).
fn scan_value(buf: &[u8], i: usize) -> Result<(Kind, usize, bool, bool)> {
    if i >= buf.len() {
        return Err(Error::invalid_record("missing value"));
    }
    match buf[i] {
        b'"' => {
            let (end, escaped) = scan_string(buf, i)?;
            Ok((Kind::Str, end, escaped, false))
        }
        b'n' if buf[i..].starts_with(b"null") => Ok((Kind::Null, i + 4, false, false)),
        b't' if buf[i..].starts_with(b"true") => Ok((Kind::Bool, i + 4, false, false)),
        b'f' if buf[i..].starts_with(b"false") => Ok((Kind::Bool, i + 5, false, false)),
        b'{' | b'[' => {
            let kind = if buf[i] == b'{' { Kind::Obj } else { Kind::Arr };
            let mut depth = 0usize;
            let mut digits = 0usize;
            let mut wide = false;
            let mut j = i;
            while j < buf.len() {
                match buf[j] {
                    b'"' => {
                        digits = 0;
                        j = scan_string(buf, j)?.0;
                        continue;
                    }
                    b'0'..=b'9' => {
                        digits += 1;
                        wide |= digits > 18;
                    }
                    // Outside strings, `.` only occurs in numbers, and `e` follows a digit only
                    // in an exponent (`true`/`false` put a letter before it).
                    b'.' => wide = true,
                    b'e' | b'E' if digits > 0 => wide = true,
                    b'{' | b'[' => {
                        depth += 1;
                        digits = 0;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok((kind, j + 1, false, wide));
                        }
                        digits = 0;
                    }
                    _ => digits = 0,
                }
                j += 1;
            }
            Err(Error::invalid_record("unterminated nested value"))
        }
        b'-' | b'0'..=b'9' => {
            let (kind, j) = scan_number(buf, i)?;
            Ok((kind, j, false, false))
        }
        _ => Err(Error::invalid_record("malformed value")),
    }
}
