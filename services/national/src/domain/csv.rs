//! The CSV of the statistics export (RFC 4180), safe to open in a spreadsheet: a value a
//! spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) is prefixed with `'` (OWASP's advice against CSV injection), and a value holding a
//! separator, a quote or a line break is quoted. `fuzz/fuzz_targets/csv.rs` reads what this
//! writes back with an independent CSV reader.

/// Characters that make a spreadsheet read a cell as a formula when they lead it.
pub const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One field, as written.
pub fn field(v: &str) -> String {
    let v = if v.starts_with(FORMULA_LEADS) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// One record: its fields separated by commas, without the line break that ends it.
pub fn record<S: AsRef<str>>(values: &[S]) -> String {
    values
        .iter()
        .map(|v| field(v.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// What a reader of the CSV sees in a field written from `v`.
pub fn as_read(v: &str) -> String {
    if v.starts_with(FORMULA_LEADS) {
        format!("'{v}")
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_open_as_text_in_a_spreadsheet() {
        assert_eq!(field("31"), "31");
        assert_eq!(
            field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        for formula in ["+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(
                field(formula).trim_start_matches('"').starts_with('\''),
                "{formula}"
            );
        }
        assert_eq!(field("a\nb"), "\"a\nb\"");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(record(&["a", "=1", "b,c"]), "a,'=1,\"b,c\"");
        assert_eq!(as_read("=1"), "'=1");
    }
}
