//! Which node a process is: one académie's, or the national aggregator. Parsed once from the
//! configuration, then carried typed: services ask for the académie they serve instead of
//! comparing strings, and the host branches on the variant.

use std::fmt;

use crate::academy::Academy;

/// The code the national node goes by in configuration, tokens and logs.
pub const NATIONAL: &str = "national";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Academy(&'static Academy),
    National,
}

impl Node {
    /// `national`, or an académie code; the error names the valid codes.
    pub fn parse(code: &str) -> Result<Node, String> {
        if code == NATIONAL {
            return Ok(Node::National);
        }
        Academy::parse(code).map(Node::Academy)
    }

    /// The académie code, or `national`: routing-key prefix, token audience, log field.
    pub fn code(self) -> &'static str {
        match self {
            Node::Academy(a) => a.code,
            Node::National => NATIONAL,
        }
    }

    pub fn academy(self) -> Option<&'static Academy> {
        match self {
            Node::Academy(a) => Some(a),
            Node::National => None,
        }
    }

    pub fn is_national(self) -> bool {
        matches!(self, Node::National)
    }

    /// The académie a service that only runs in académie nodes serves.
    pub fn require_academy(self, service: &str) -> anyhow::Result<&'static Academy> {
        self.academy().ok_or_else(|| {
            anyhow::anyhow!("{service} runs in an académie node, not the national node")
        })
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        assert_eq!(Node::parse("national").unwrap(), Node::National);
        let t = Node::parse("toulouse").unwrap();
        assert_eq!(t.code(), "toulouse");
        assert_eq!(t.academy().map(|a| a.code), Some("toulouse"));
        assert!(Node::parse("atlantis").unwrap_err().contains("toulouse"));
        assert!(Node::National.require_academy("registration").is_err());
    }
}
