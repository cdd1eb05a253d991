//! The JSON Canonicalization Scheme (RFC 8785) for the JSON this service signs and verifies:
//! object members sorted by the UTF-16 code units of their names, no insignificant whitespace,
//! strings escaped as ECMAScript's `JSON.stringify` does, and numbers limited to integers that
//! a double represents exactly (|n| ≤ 2^53 − 1), whose canonical form is their decimal digits.
//! Our credentials hold no fractional number, so the ECMAScript double formatting is not needed;
//! a document with one is refused rather than signed or verified approximately.
//!
//! [`parse_strict`] reads untrusted JSON and refuses duplicate member names, which RFC 8785
//! forbids and which would let two parsers read two different documents under one signature.

use std::{cmp::Ordering, fmt};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Largest integer a double holds exactly; beyond it ECMAScript would print another number.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    #[error("number {0} is not an integer of at most 2^53 - 1 in magnitude")]
    Number(String),
}

/// The canonical text of `value`.
pub fn canonicalize(value: &Value) -> Result<String, JcsError> {
    let mut out = String::new();
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| utf16_cmp(a.0, b.0));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, name);
                out.push(':');
                write_value(out, member)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_number(out: &mut String, n: &Number) -> Result<(), JcsError> {
    let safe = if let Some(i) = n.as_i64() {
        i.unsigned_abs() <= MAX_SAFE_INTEGER
    } else if let Some(u) = n.as_u64() {
        u <= MAX_SAFE_INTEGER
    } else {
        false
    };
    if !safe {
        return Err(JcsError::Number(n.to_string()));
    }
    // Integer digits are already canonical (no sign on zero, no exponent, no leading zero).
    out.push_str(&n.to_string());
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Member names compare as arrays of UTF-16 code units (RFC 8785 §3.2.3), which differs from
/// byte or code point order for characters beyond U+FFFF.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Parses JSON, refusing duplicate member names (at any depth).
pub fn parse_strict(text: &str) -> Result<Value, String> {
    serde_json::from_str::<Strict>(text)
        .map(|s| s.0)
        .map_err(|e| e.to_string())
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.insert(name.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate member name {name:?}")));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc8785_member_order_is_by_utf16_code_units() {
        // RFC 8785 §3.2.3: the emoji (a surrogate pair, D83D DE00) sorts before U+FB33,
        // although its code point (U+1F600) is greater.
        let input = r#"{
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\ud83d\ude00": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let v = parse_strict(input).unwrap();
        assert_eq!(
            canonicalize(&v).unwrap(),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn rfc8785_string_escapes_and_literals() {
        // RFC 8785 §3.2.2's sample, without its fractional numbers.
        let input = r#"{"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#;
        let c = canonicalize(&parse_strict(input).unwrap()).unwrap();
        assert_eq!(
            c,
            r#"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    #[test]
    fn nested_whitespace_and_integers() {
        let v = json!({"b": [1, -2, {"z": 0, "a": 9_007_199_254_740_991_u64}], "a": {}});
        assert_eq!(
            canonicalize(&v).unwrap(),
            r#"{"a":{},"b":[1,-2,{"a":9007199254740991,"z":0}]}"#
        );
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(
            canonicalize(&parse_strict(&pretty).unwrap()).unwrap(),
            canonicalize(&v).unwrap()
        );
    }

    #[test]
    fn unsafe_numbers_are_refused() {
        for bad in [
            json!(1.5),
            json!(9_007_199_254_740_992_u64),
            json!(-9_007_199_254_740_992_i64),
            json!({"a": [0.1]}),
        ] {
            assert!(canonicalize(&bad).is_err(), "{bad}");
        }
        assert!(canonicalize(&parse_strict("1e2").unwrap()).is_err());
    }

    #[test]
    fn duplicate_names_are_refused_at_any_depth() {
        assert!(
            parse_strict(r#"{"a": 1, "a": 1}"#)
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(parse_strict(r#"{"x": [{"b": 1, "c": {"d": 1, "d": 2}}]}"#).is_err());
        assert!(parse_strict(r#"{"a": 1, "b": {"a": 1}}"#).is_ok());
        assert!(parse_strict("{").is_err());
        assert!(parse_strict("").is_err());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(MAX_SAFE_INTEGER as i64)..=MAX_SAFE_INTEGER as i64).prop_map(|n| json!(n)),
            "\\PC*|[\\x00-\\x1f\"\\\\]{0,4}|[\u{10000}-\u{10ffff}\u{e000}-\u{ffff}]{0,3}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    "\\PC{0,6}|[\u{10000}-\u{10ffff}\u{e000}-\u{ffff}]{1,2}",
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonical_text_reads_back_as_the_same_value(v in arb_json()) {
            let c = canonicalize(&v).unwrap();
            prop_assert_eq!(parse_strict(&c).unwrap(), v);
        }

        #[test]
        fn canonicalization_ignores_formatting(v in arb_json()) {
            let c = canonicalize(&v).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            prop_assert_eq!(canonicalize(&parse_strict(&pretty).unwrap()).unwrap(), c.clone());
            // And it is a fixed point.
            prop_assert_eq!(canonicalize(&parse_strict(&c).unwrap()).unwrap(), c);
        }

        #[test]
        fn members_come_in_utf16_order(names in prop::collection::btree_set("\\PC{0,4}|[\u{10000}-\u{10ffff}\u{e000}-\u{ffff}]{1,2}", 0..8)) {
            let v = Value::Object(names.iter().map(|n| (n.clone(), Value::Null)).collect());
            let c = canonicalize(&v).unwrap();
            let mut expected: Vec<&String> = names.iter().collect();
            expected.sort_by(|a, b| utf16_cmp(a, b));
            let mut text = String::from("{");
            for (i, n) in expected.into_iter().enumerate() {
                if i > 0 { text.push(','); }
                write_string(&mut text, n);
                text.push_str(":null");
            }
            text.push('}');
            prop_assert_eq!(c, text);
        }
    }
}
