//! Arbitrary text as the values of the national statistics' CSV export (records split on U+0001,
//! fields on U+0000), written by the export's writer and read back by an independent CSV reader
//! (the `csv` crate): every record and field comes back as written, a value a spreadsheet would
//! run as a formula comes back prefixed with `'`, and no field read starts a formula. Never
//! panics.
#![no_main]

use cplds_national::domain::csv::{FORMULA_LEADS, as_read, record};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let records: Vec<Vec<&str>> = text
        .split('\u{1}')
        .map(|r| r.split('\u{0}').collect())
        .collect();
    // A record of one empty field is an empty line, which CSV readers skip; the export always
    // writes the year and the scope first, so it never writes one.
    if records.iter().any(|r| r.len() == 1 && r[0].is_empty()) {
        return;
    }
    let mut written = String::new();
    for r in &records {
        written.push_str(&record(r));
        written.push('\n');
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(written.as_bytes());
    let read: Vec<csv::StringRecord> = reader
        .records()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("the export wrote CSV its readers refuse: {e}\n{written:?}"));
    assert_eq!(read.len(), records.len(), "records in {written:?}");
    for (got, want) in read.iter().zip(&records) {
        assert_eq!(got.len(), want.len(), "fields of {want:?} in {written:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, as_read(w), "field {w:?} in {written:?}");
            assert!(!g.starts_with(FORMULA_LEADS), "a formula in {written:?}");
        }
    }
});
