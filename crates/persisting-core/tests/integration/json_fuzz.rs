//! Deterministic counterpart of the `json_decode` fuzz target (fuzz/fuzz_targets/json_decode.rs):
//! a few thousand seeded inputs (random bytes, JSON-alphabet soup, generated JSON documents
//! and mutations of them) through `split_rows` / `infer_rows` / `decode_rows` with the same
//! checks. Any failing input is printed so it can be added to the fuzz corpus.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use persisting_core::json::{decode_rows, infer_rows, split_rows};

/// The fuzz target's checks (kept identical to fuzz/fuzz_targets/json_decode.rs).
fn check(data: &[u8]) {
    let valid = serde_json::from_slice::<serde_json::Value>(data).ok();
    let elements = match &valid {
        Some(serde_json::Value::Array(items)) if items.iter().all(|v| v.is_object()) => Some(items.len()),
        _ => None,
    };
    let mut rows = data.to_vec();
    let split = match split_rows(&mut rows, None) {
        Ok(s) => s,
        Err(e) => {
            assert!(elements.is_none(), "valid array of {elements:?} objects rejected by split_rows: {e}");
            return;
        }
    };
    if let Some(n) = elements {
        assert_eq!(split.rows, n, "split_rows row count differs from the JSON array length");
    }
    let Ok(schema) = infer_rows(&rows) else {
        return;
    };
    let parsed = serde_json::Deserializer::from_slice(&rows).into_iter::<serde_json::Value>().count();
    assert_eq!(parsed, split.rows, "infer_rows accepted a different number of rows than split_rows found");
    let schema = Arc::new(schema);
    if let Ok(batch) = decode_rows(&rows, &schema, split.rows) {
        assert_eq!(batch.num_rows(), split.rows);
    }
    let mut again = data.to_vec();
    if let Ok(s2) = split_rows(&mut again, Some(&schema)) {
        assert_eq!(s2.rows, split.rows);
        if valid.is_some() && s2.fits_schema && s2.flat {
            if let Err(e) = decode_rows(&again, &schema, s2.rows) {
                panic!("rows that fit the schema and are flat failed a strict decode: {e}");
            }
        }
    }
}

/// xorshift64*: small, seeded, good enough to spread inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const KEYS: &[&str] = &["a", "b", "c", "a.b", "", " ", "é", "k\\\"q", "\\u0061", "n"];
const STRINGS: &[&str] = &["", "x", "é日", "line\\nbreak", "q\\\"uote", "\\u00e9", "\\ud800", "\\udc00x", "\\\\", "🙂"];
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-7",
    "1.5",
    "1e5",
    "1E-3",
    "-0.0",
    "123456789012345678",
    "1234567890123456789",
    "99999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "5e-324",
];

fn value(r: &mut Rng, depth: usize, top: bool) -> String {
    let choice = if depth > 3 { r.below(4) } else { r.below(7) };
    match choice {
        0 => "null".into(),
        1 => r.pick(&["true", "false"]).into(),
        2 => r.pick(NUMBERS).into(),
        3 => format!("\"{}\"", r.pick(STRINGS)),
        4 => {
            // top-level numeric arrays become vectors; mix in other arrays too
            let n = r.below(4);
            let items: Vec<String> = (0..n)
                .map(|_| if top && r.below(2) == 0 { r.pick(NUMBERS).to_string() } else { value(r, depth + 1, false) })
                .collect();
            format!("[{}]", items.join(","))
        }
        _ => object(r, depth + 1),
    }
}

fn object(r: &mut Rng, depth: usize) -> String {
    let n = r.below(4);
    let fields: Vec<String> = (0..n).map(|_| format!("\"{}\":{}", r.pick(KEYS), value(r, depth, depth == 0))).collect();
    format!("{{{}}}", fields.join(","))
}

fn document(r: &mut Rng) -> Vec<u8> {
    let n = r.below(5);
    // Rows of one batch often share a shape: repeat the first row's text with new values sometimes.
    let rows: Vec<String> = (0..n).map(|_| object(r, 0)).collect();
    let ws = r.pick(&["", " ", "\n", "\t\r\n "]);
    format!("{ws}[{ws}{}{ws}]{ws}", rows.join(&format!(",{ws}"))).into_bytes()
}

fn mutate(r: &mut Rng, mut d: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + r.below(3) {
        if d.is_empty() {
            d.push(b'[');
        }
        let i = r.below(d.len());
        match r.below(6) {
            0 => d[i] ^= 1 << r.below(8),
            1 => d.truncate(i),
            2 => {
                let j = (i + 1 + r.below(8)).min(d.len());
                d.drain(i..j);
            }
            3 => {
                let alphabet: &[u8] = b"[]{}\",:\\0-.enu ";
                d.insert(i, alphabet[r.below(alphabet.len())])
            }
            4 => {
                let j = (i + 1 + r.below(16)).min(d.len());
                let chunk = d[i..j].to_vec();
                d.splice(i..i, chunk);
            }
            _ => d[i] = r.below(256) as u8,
        }
    }
    d
}

#[test]
fn json_row_path_survives_seeded_inputs() {
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let mut failures = Vec::new();
    let (mut valid_docs, mut decoded) = (0, 0);
    for case in 0..4000 {
        let input = match case % 4 {
            0 => (0..r.below(64)).map(|_| r.below(256) as u8).collect(),
            1 => {
                let alphabet: &[u8] = b"[]{}\",:\\0123456789-+.eEtrufalsn \n";
                (0..r.below(64)).map(|_| alphabet[r.below(alphabet.len())]).collect()
            }
            2 => document(&mut r),
            _ => {
                let d = document(&mut r);
                mutate(&mut r, d)
            }
        };
        if serde_json::from_slice::<serde_json::Value>(&input).is_ok() {
            valid_docs += 1;
        }
        let result = catch_unwind(AssertUnwindSafe(|| check(&input)));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("case {case}: {msg}\n  input: {}", input.escape_ascii()));
        } else {
            let mut rows = input.clone();
            if let Ok(s) = split_rows(&mut rows, None) {
                if let Ok(schema) = infer_rows(&rows) {
                    decoded += decode_rows(&rows, &Arc::new(schema), s.rows).is_ok() as usize;
                }
            }
        }
    }
    // The generator must reach the decoder, not only the parsers' error paths.
    assert!(valid_docs > 500, "only {valid_docs} valid documents generated");
    assert!(decoded > 300, "only {decoded} inputs decoded");
    assert!(
        failures.is_empty(),
        "{} failing inputs:\n{}",
        failures.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}
