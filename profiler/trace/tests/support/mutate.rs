//! A deterministic mutator for fuzzing in the normal test suite: byte-level damage (flips,
//! insertions, deletions, splices, truncation) and JSON-aware damage (a value somewhere in the
//! document replaced by a huge, negative or fractional number, a 70,000-character string, deep
//! nesting, an empty or repeated array), from a seeded xorshift generator, so a failure can be
//! replayed from its seed. Shared by `lockprof-trace`'s and `lockprof-cli`'s fuzz tests.

#![allow(dead_code)] // each test binary uses its own part of this

use serde_json::Value;

/// xorshift64*: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is moved off the fixed point).
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Numbers that have found bugs elsewhere: the edges of every integer type, and beyond.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "0.5",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
];

/// Fragments that are dangerous inside JSON.
const FRAGMENTS: &[&str] =
    &["{", "}", "[", "]", "\"", "\\", ",", ":", "null", "\\u0000", "\u{1b}[31m", "\n", "\u{fffe}"];

/// `seed` with `rounds` random byte-level mutations.
pub fn mutate_bytes(rng: &mut Rng, seed: &[u8], other: &[u8], rounds: usize) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rounds {
        let at = if bytes.is_empty() { 0 } else { rng.below(bytes.len() + 1) };
        match rng.below(9) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => bytes.insert(at, rng.next() as u8),
            2 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            3 => {
                let fragment = rng.pick(FRAGMENTS).as_bytes();
                bytes.splice(at..at, fragment.iter().copied());
            }
            4 => {
                // A run of digits becomes one of the dangerous numbers.
                if let Some(start) = (at..bytes.len()).find(|&i| bytes[i].is_ascii_digit()) {
                    let end =
                        (start..bytes.len()).find(|&i| !bytes[i].is_ascii_digit()).unwrap_or(bytes.len());
                    bytes.splice(start..end, rng.pick(NUMBERS).bytes());
                }
            }
            5 if !other.is_empty() => {
                // A piece of another input.
                let from = rng.below(other.len());
                let to = (from + 1 + rng.below(256)).min(other.len());
                bytes.splice(at..at, other[from..to].iter().copied());
            }
            6 => bytes.truncate(at),
            7 if !bytes.is_empty() => {
                // A piece of itself, repeated.
                let from = rng.below(bytes.len());
                let to = (from + 1 + rng.below(128)).min(bytes.len());
                let piece: Vec<u8> = bytes[from..to].to_vec();
                for _ in 0..1 + rng.below(8) {
                    bytes.splice(at..at, piece.iter().copied());
                }
            }
            _ => {
                let open = if rng.below(2) == 0 { b'[' } else { b'{' };
                let depth = 1 + rng.below(300);
                bytes.splice(at..at, std::iter::repeat_n(open, depth));
            }
        }
    }
    bytes
}

/// `seed` (valid JSON) with one value somewhere, or every value of one key (every lock's
/// `name`, say), replaced by something odd but still JSON.
pub fn mutate_json(rng: &mut Rng, seed: &Value) -> Value {
    let mut value = seed.clone();
    let (mut keys, mut text_keys) = (Vec::new(), Vec::new());
    collect_keys(&value, &mut keys, &mut text_keys);
    if rng.below(4) == 0 && !text_keys.is_empty() {
        // Names and paths: what ends up in labels, tables and messages.
        let key = rng.pick(&text_keys).clone();
        replace_key(rng, &mut value, &key);
    } else if rng.below(3) == 0 && !keys.is_empty() {
        let key = rng.pick(&keys).clone();
        replace_key(rng, &mut value, &key);
    } else {
        let count = count_nodes(&value);
        let target = rng.below(count.max(1));
        replace_nth(rng, &mut value, &mut { target });
    }
    value
}

/// Every key of the document, and those with a string value.
fn collect_keys(value: &Value, keys: &mut Vec<String>, text_keys: &mut Vec<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys, text_keys)),
        Value::Object(map) => {
            for (k, v) in map {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
                if v.is_string() && !text_keys.contains(k) {
                    text_keys.push(k.clone());
                }
                collect_keys(v, keys, text_keys);
            }
        }
        _ => {}
    }
}

/// Replaces the value of every `key` in the document, each with its own odd value.
fn replace_key(rng: &mut Rng, value: &mut Value, key: &str) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| replace_key(rng, v, key)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == key {
                    *v = odd_value(rng, v);
                } else {
                    replace_key(rng, v, key);
                }
            }
        }
        _ => {}
    }
}

/// Mostly a value of the same type as `old` (so the trace often still fits its schema, and
/// what reads it is reached), sometimes anything.
fn odd_value(rng: &mut Rng, old: &Value) -> Value {
    const SMALL: &[u64] = &[0, 1, 2, 3, 7, 65_535, 65_536, 4_294_967_295, u64::MAX];
    match (old, rng.below(4)) {
        (Value::Number(_), 0..3) => Value::from(*rng.pick(SMALL)),
        (Value::String(_), 0..3) => match rng.below(4) {
            0 | 1 => Value::String("L".repeat(70_000)),
            2 => Value::String("a\nb\u{1b}[31m;\"c\"\u{0}".into()),
            _ => Value::String(String::new()),
        },
        (Value::Array(items), 0..3) if !items.is_empty() => {
            // The array repeated: duplicate ids, duplicate rows.
            let mut doubled = items.clone();
            doubled.extend(items.iter().cloned());
            Value::Array(doubled)
        }
        _ => any_value(rng),
    }
}

fn any_value(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => {
            let number: &&str = rng.pick(NUMBERS);
            serde_json::from_str(number).unwrap_or(Value::Null)
        }
        1 => Value::String("L".repeat(70_000)),
        2 => Value::String("a\nb\u{1b}[31m;\"c\"\u{0}".into()),
        3 => Value::Array(Vec::new()),
        4 => Value::Object(serde_json::Map::new()),
        5 => Value::Null,
        6 => Value::Bool(true),
        _ => Value::String(String::new()),
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `n`-th node (pre-order) with an odd value; true once done.
fn replace_nth(rng: &mut Rng, value: &mut Value, n: &mut usize) -> bool {
    if *n == 0 {
        *value = odd_value(rng, value);
        return true;
    }
    *n -= 1;
    let children: Vec<&mut Value> = match value {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(map) => map.values_mut().collect(),
        _ => return false,
    };
    for child in children {
        let size = count_nodes(child);
        if *n < size {
            return replace_nth(rng, child, n);
        }
        *n -= size;
    }
    false
}

/// Every file in `dir` (not `README.md`), sorted by name, with its name.
pub fn seeds(dir: &std::path::Path, extension: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .filter(|p| extension.is_none_or(|x| p.extension().is_some_and(|e| e == x)))
        .map(|p| {
            (
                p.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                std::fs::read(&p).expect("read a seed"),
            )
        })
        .collect();
    files.sort();
    files
}
