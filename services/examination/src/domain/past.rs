//! A past session's candidates as the exam office imports them (one CSV row each), so that the
//! national series and the comparison with the previous session have history from day one. The
//! results of validated candidates are decided again by the arrêté's rule ([`decide_with`]):
//! the file gives the marks, not the outcome.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use super::{
    decision::{Decision, decide_with},
    mark::PartResult,
};

/// The header of the file, in this order.
pub const COLUMNS: [&str; 10] = [
    "staff_number",
    "sex",
    "department",
    "staff_category",
    "workplace_type",
    "mlds_actions",
    "dropout_referent",
    "status",
    "part_1",
    "part_2",
];
const SEXES: &[&str] = &["female", "male"];
const STAFF_CATEGORIES: &[&str] = &[
    "first_degree",
    "second_degree_tenured",
    "public_contract_second_degree",
    "private_under_contract",
];
const WORKPLACE_TYPES: &[&str] = &["college", "lycee", "erea", "ecole", "iem", "other"];
const STATUSES: &[&str] = &["validated", "rejected", "withdrawn"];
/// A file of a session: far more than any académie's candidates (tens a year).
const MAX_ROWS: usize = 5_000;

/// One candidate of the file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastCandidate {
    pub staff_number: String,
    pub sex: &'static str,
    pub department: String,
    pub staff_category: &'static str,
    pub workplace_type: &'static str,
    pub mlds_actions: bool,
    pub dropout_referent: bool,
    pub status: &'static str,
    /// Validated candidates' results (an empty mark is an absence), decided again.
    pub decision: Option<Decision>,
}

impl PastCandidate {
    /// What the national figures hold of the row, to tell a changed row from one imported already.
    pub fn digest(&self) -> String {
        let d = self
            .decision
            .map(|d| format!("{:?}/{:?}/{}", d.part_1, d.part_2, d.outcome.as_str()));
        let text = format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{:?}",
            self.staff_number,
            self.sex,
            self.department,
            self.staff_category,
            self.workplace_type,
            self.mlds_actions,
            self.dropout_referent,
            self.status,
            d
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// Withdrawn after the admitted list: counted among those admitted to sit.
    pub fn was_admitted_to_sit(&self) -> bool {
        self.status != "rejected"
    }
}

/// The value of a column, or its error recorded under `csv[line].column`.
fn take<T>(
    errors: &mut Vec<(String, String)>,
    line: usize,
    column: &str,
    r: Result<T, String>,
) -> Option<T> {
    r.map_err(|e| errors.push((format!("csv[{line}].{column}"), e)))
        .ok()
}

fn one_of(value: &str, allowed: &'static [&'static str]) -> Result<&'static str, String> {
    let v = value.trim().to_ascii_lowercase();
    allowed
        .iter()
        .copied()
        .find(|a| *a == v)
        .ok_or_else(|| format!("{value:?} is not one of: {}", allowed.join(", ")))
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "oui" | "true" | "1" => Ok(true),
        "no" | "non" | "false" | "0" | "" => Ok(false),
        _ => Err(format!("{value:?} is not yes or no")),
    }
}

/// A mark /20, or `ABS` for an absence.
fn part(value: &str) -> Result<PartResult, String> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("abs") || v.is_empty() {
        Ok(PartResult::Absent)
    } else {
        PartResult::parse(v, false)
    }
}

/// Parses the file; errors are (field path, reason) with `csv[N].column` paths, `N` the line
/// of the file (the header is line 1), every bad row named.
pub fn parse(csv_text: &[u8]) -> Result<Vec<PastCandidate>, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(csv_text);
    match reader.headers() {
        Ok(h) if h.iter().map(|c| c.to_ascii_lowercase()).eq(COLUMNS) => {}
        Ok(h) => errors.push((
            "csv[1]".to_owned(),
            format!(
                "the header must be {}; found {}",
                COLUMNS.join(","),
                h.iter().collect::<Vec<_>>().join(",")
            ),
        )),
        Err(e) => errors.push(("csv".to_owned(), format!("is not CSV: {e}"))),
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut seen = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if i >= MAX_ROWS {
            errors.push(("csv".to_owned(), format!("at most {MAX_ROWS} rows")));
            break;
        }
        let record = match record {
            Ok(r) if r.len() == COLUMNS.len() => r,
            Ok(r) => {
                errors.push((
                    format!("csv[{line}]"),
                    format!("has {} columns, not {}", r.len(), COLUMNS.len()),
                ));
                continue;
            }
            Err(e) => {
                errors.push((format!("csv[{line}]"), format!("is not CSV: {e}")));
                continue;
            }
        };
        let mut row_errors = Vec::new();
        macro_rules! check {
            ($column:expr, $r:expr $(,)?) => {
                take(&mut row_errors, line, $column, $r)
            };
        }
        let staff_number = record[0].to_ascii_uppercase();
        if staff_number.is_empty() {
            check!("staff_number", Err::<(), _>("is required".into()));
        } else if !seen.insert(staff_number.clone()) {
            check!(
                "staff_number",
                Err::<(), _>("is given on an earlier line".into()),
            );
        }
        let sex = check!("sex", one_of(&record[1], SEXES));
        let department = record[2].to_ascii_uppercase();
        if department.is_empty() {
            check!("department", Err::<(), _>("is required".into()));
        }
        let staff_category = check!("staff_category", one_of(&record[3], STAFF_CATEGORIES));
        let workplace_type = check!("workplace_type", one_of(&record[4], WORKPLACE_TYPES));
        let mlds_actions = check!("mlds_actions", yes_no(&record[5]));
        let dropout_referent = check!("dropout_referent", yes_no(&record[6]));
        let status = check!("status", one_of(&record[7], STATUSES));
        let (part_1, part_2) = (
            check!("part_1", part(&record[8])),
            check!("part_2", part(&record[9])),
        );
        if status.is_some_and(|s| s != "validated") {
            for (i, column) in [(8, "part_1"), (9, "part_2")] {
                if !record[i].is_empty() {
                    check!(
                        column,
                        Err::<(), _>("only a validated candidate has results".into()),
                    );
                }
            }
        }
        let decision = (status == Some("validated")).then(|| decide_with(false, part_1, part_2));
        if let (
            [],
            Some(sex),
            Some(staff_category),
            Some(workplace_type),
            Some(mlds_actions),
            Some(dropout_referent),
            Some(status),
        ) = (
            &row_errors[..],
            sex,
            staff_category,
            workplace_type,
            mlds_actions,
            dropout_referent,
            status,
        ) {
            out.push(PastCandidate {
                staff_number,
                sex,
                department,
                staff_category,
                workplace_type,
                mlds_actions,
                dropout_referent,
                status,
                decision,
            });
        }
        errors.extend(row_errors);
    }
    if errors.is_empty() && out.is_empty() {
        errors.push(("csv".to_owned(), "has no candidate".to_owned()));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::{Outcome, Reason};

    const HEADER: &str = "staff_number,sex,department,staff_category,workplace_type,mlds_actions,dropout_referent,status,part_1,part_2\n";

    fn file(rows: &str) -> Vec<u8> {
        format!("{HEADER}{rows}").into_bytes()
    }

    #[test]
    fn results_are_decided_again_by_the_rule() {
        let rows = parse(&file(
            "12e0000001aaa,female,31,first_degree,college,yes,no,validated,14.5,12\n\
             12E0000002AAA,male,81,second_degree_tenured,lycee,no,yes,validated,4,18\n\
             12E0000003AAA,female,31,first_degree,erea,no,no,validated,ABS,12\n\
             12E0000004AAA,male,32,private_under_contract,other,no,no,withdrawn,,\n\
             12E0000005AAA,male,32,first_degree,iem,no,no,rejected,,\n",
        ))
        .unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].staff_number, "12E0000001AAA");
        assert_eq!(rows[0].decision.unwrap().outcome, Outcome::Admitted);
        assert_eq!(
            rows[1].decision.unwrap().reason,
            Some(Reason::EliminatoryMark)
        );
        assert_eq!(rows[2].decision.unwrap().reason, Some(Reason::Absent));
        assert!(rows[3].decision.is_none() && rows[3].was_admitted_to_sit());
        assert!(!rows[4].was_admitted_to_sit());
        assert_ne!(rows[0].digest(), rows[1].digest());
    }

    #[test]
    fn every_bad_row_is_named() {
        let errs = parse(&file(
            "12E0000001AAA,female,31,first_degree,college,yes,no,validated,14.5,12\n\
             12E0000001AAA,F,31,teacher,college,maybe,no,validated,21,12\n\
             ,male,81,first_degree,lycee,no,no,rejected,12,\n\
             only,three,columns\n",
        ))
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            fields,
            [
                "csv[3].staff_number",
                "csv[3].sex",
                "csv[3].staff_category",
                "csv[3].mlds_actions",
                "csv[3].part_1",
                "csv[4].staff_number",
                "csv[4].part_1",
                "csv[5]",
            ]
        );
        let header = parse(b"a,b\n1,2\n").unwrap_err();
        assert_eq!(header[0].0, "csv[1]");
        assert_eq!(parse(HEADER.as_bytes()).unwrap_err()[0].0, "csv");
    }
}
