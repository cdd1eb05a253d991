//! The JSON Schemas of `deploy/check/schemas/`, compiled once.

use std::{collections::BTreeMap, sync::OnceLock};

use serde_json::Value;

use crate::{Problems, deploy_dir, load_json, rel};

pub struct Schemas {
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl Schemas {
    /// Compiles every `schemas/NAME.schema.json`; an invalid schema is an error.
    pub fn load() -> Result<Self, String> {
        let dir = deploy_dir().join("check/schemas");
        let mut validators = BTreeMap::new();
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            let Some(name) = file.strip_suffix(".schema.json") else {
                return Err(format!(
                    "{}: schemas are named NAME.schema.json",
                    rel(&path)
                ));
            };
            let schema = load_json(&path)?;
            let validator = jsonschema::validator_for(&schema)
                .map_err(|e| format!("{}: not a valid JSON Schema: {e}", rel(&path)))?;
            validators.insert(name.to_owned(), validator);
        }
        Ok(Self { validators })
    }

    /// The schemas, compiled on first use.
    pub fn get() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| Schemas::load().unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.validators.keys().map(String::as_str)
    }

    /// Problems of `value` against the schema `name`, each naming `what` and the location.
    pub fn check(&self, name: &str, what: &str, value: &Value) -> Problems {
        let Some(validator) = self.validators.get(name) else {
            return vec![format!("{what}: no schema named {name}")];
        };
        validator
            .iter_errors(value)
            .map(|e| {
                let at = e.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                format!("{what}: {e} (at {at}, schema {name})")
            })
            .collect()
    }
}
