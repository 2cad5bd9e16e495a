//! The protocol-buffer wire encoding, as much of it as `lockprof pprof` writes: varints, field
//! keys, length-delimited fields (strings, nested messages) and packed repeated integers.
//!
//! A message is built field by field into a [`Message`]; nested messages are built first and
//! then written into their parent with [`Message::message`]. Scalars equal to 0 are left out,
//! as proto3 encoders do (a reader sees the default, 0); strings are always written, so that a
//! repeated string field keeps its empty entries (pprof's string table starts with `""`).
//!
//! ```
//! use lockprof_cli::protobuf::Message;
//! let mut m = Message::new();
//! m.uint64(1, 150);
//! assert_eq!(m.into_bytes(), [0x08, 0x96, 0x01]);
//! ```

/// The wire type of varint fields (`int64`, `uint64`, `bool`).
pub const VARINT: u8 = 0;
/// The wire type of length-delimited fields (strings, bytes, messages, packed repeated fields).
pub const LEN: u8 = 2;

/// Appends `value` as a base-128 varint: seven bits a byte, least significant first, the high
/// bit set on every byte but the last.
pub fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends the key of field `field` with wire type `wire`.
pub fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// An encoded message under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    bytes: Vec<u8>,
}

impl Message {
    /// An empty message.
    pub fn new() -> Message {
        Message::default()
    }

    /// A `uint64` field (left out if 0).
    pub fn uint64(&mut self, field: u32, value: u64) {
        if value != 0 {
            key(&mut self.bytes, field, VARINT);
            varint(&mut self.bytes, value);
        }
    }

    /// An `int64` field (left out if 0): negative numbers take ten bytes, as protobuf's `int64`
    /// (two's complement, not zig-zag) does.
    pub fn int64(&mut self, field: u32, value: i64) {
        self.uint64(field, value as u64);
    }

    /// A `bool` field (left out if false).
    pub fn bool(&mut self, field: u32, value: bool) {
        self.uint64(field, u64::from(value));
    }

    /// A `bytes` field, always written (even empty).
    pub fn bytes(&mut self, field: u32, value: &[u8]) {
        key(&mut self.bytes, field, LEN);
        varint(&mut self.bytes, value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    /// A `string` field, always written (even empty).
    pub fn string(&mut self, field: u32, value: &str) {
        self.bytes(field, value.as_bytes());
    }

    /// A nested message, always written (even empty).
    pub fn message(&mut self, field: u32, value: &Message) {
        self.bytes(field, &value.bytes);
    }

    /// A packed repeated `uint64` field (left out if empty).
    pub fn packed_uint64(&mut self, field: u32, values: &[u64]) {
        if values.is_empty() {
            return;
        }
        let mut packed = Vec::with_capacity(values.len() * 2);
        for &value in values {
            varint(&mut packed, value);
        }
        self.bytes(field, &packed);
    }

    /// A packed repeated `int64` field (left out if empty).
    pub fn packed_int64(&mut self, field: u32, values: &[i64]) {
        let values: Vec<u64> = values.iter().map(|&v| v as u64).collect();
        self.packed_uint64(field, &values);
    }

    /// The encoded bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded message.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(&mut out, value);
        out
    }

    #[test]
    fn varints_are_seven_bits_a_byte_least_significant_first() {
        assert_eq!(encoded(0), [0x00]);
        assert_eq!(encoded(1), [0x01]);
        assert_eq!(encoded(127), [0x7f]);
        assert_eq!(encoded(128), [0x80, 0x01]);
        assert_eq!(encoded(300), [0xac, 0x02]);
        assert_eq!(encoded(u64::MAX), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    }

    #[test]
    fn fields_are_keyed_by_number_and_wire_type() {
        // The examples of the protobuf encoding guide: field 1 = 150; field 2 = "testing".
        let mut m = Message::new();
        m.uint64(1, 150);
        m.string(2, "testing");
        assert_eq!(m.as_bytes(), [0x08, 0x96, 0x01, 0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g']);
        // A field number past 15 takes a two-byte key.
        let mut m = Message::new();
        m.bool(16, true);
        assert_eq!(m.into_bytes(), [0x80, 0x01, 0x01]);
    }

    #[test]
    fn zero_scalars_are_left_out_but_empty_strings_are_not() {
        let mut m = Message::new();
        m.uint64(1, 0);
        m.int64(2, 0);
        m.bool(3, false);
        m.packed_uint64(4, &[]);
        assert!(m.as_bytes().is_empty());
        m.string(6, "");
        assert_eq!(m.into_bytes(), [0x32, 0x00]);
    }

    #[test]
    fn negative_int64s_take_ten_bytes() {
        let mut m = Message::new();
        m.int64(1, -1);
        assert_eq!(m.into_bytes(), [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    }

    #[test]
    fn packed_fields_and_nested_messages_are_length_delimited() {
        // The guide's packed example: field 4 = [3, 270, 86942].
        let mut m = Message::new();
        m.packed_int64(4, &[3, 270, 86942]);
        assert_eq!(m.as_bytes(), [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
        // The guide's nested example: field 3 = { field 1 = 150 }.
        let mut inner = Message::new();
        inner.uint64(1, 150);
        let mut outer = Message::new();
        outer.message(3, &inner);
        assert_eq!(outer.into_bytes(), [0x1a, 0x03, 0x08, 0x96, 0x01]);
    }
}
