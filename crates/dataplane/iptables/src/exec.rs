//! Spawning a tool inside a network namespace, with its stdin fed from memory.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Where the tools run: a pinned network namespace, or the caller's own (`None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Place {
    netns: Option<PathBuf>,
}

/// What a finished tool left: whether it succeeded, its stdout and its stderr.
pub(crate) struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

// === impl Place ===

impl Place {
    pub fn new(netns: Option<&Path>) -> Self {
        Self {
            netns: netns.map(Path::to_owned),
        }
    }

    pub fn netns(&self) -> Option<&Path> {
        self.netns.as_deref()
    }

    /// Runs `program args…` with `stdin` and returns how it ended (a failing exit is not an
    /// error here: callers decide what a failure means).
    pub fn run(&self, program: &str, args: &[&str], stdin: &[u8]) -> Result<Ran> {
        let out = podnet_netns::output(self.netns.as_deref(), program, args, stdin)?.map_err(
            |source| Error::Spawn {
                netns: self.label(),
                program: program.to_owned(),
                source,
            },
        )?;
        Ok(Ran {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }

    /// Like [`Place::run`], but a failing exit is an [`Error::Failed`] naming `what`.
    pub fn run_ok(&self, program: &str, args: &[&str], stdin: &[u8], what: &str) -> Result<String> {
        let ran = self.run(program, args, stdin)?;
        if !ran.ok {
            return Err(self.failed(program, what, ran.stderr));
        }
        Ok(ran.stdout)
    }

    pub fn failed(&self, program: &str, what: &str, stderr: String) -> Error {
        Error::Failed {
            netns: self.label(),
            program: program.to_owned(),
            what: what.to_owned(),
            stderr,
        }
    }

    /// A restore input was rejected: point at the line the tool names, with its neighbours.
    pub fn rejected(&self, program: &str, input: &str, stderr: String) -> Error {
        let Some(line) = failing_line(&stderr) else {
            return self.failed(program, "restore", stderr);
        };
        Error::Rejected {
            netns: self.label(),
            program: program.to_owned(),
            line,
            lines: excerpt(input, line, 2),
            stderr,
        }
    }

    pub fn label(&self) -> String {
        self.netns
            .as_ref()
            .map_or_else(|| "(own)".to_owned(), |p| p.display().to_string())
    }
}

/// The input line a restore tool complains about. The tools say it in several ways:
/// `line 4 failed`, `line 6: CHAIN_DEL failed`, `Error occurred at line: 4`.
fn failing_line(stderr: &str) -> Option<usize> {
    let mut rest = stderr;
    while let Some(at) = rest.find("line") {
        rest = &rest[at + "line".len()..];
        let digits: String = rest
            .trim_start_matches([':', ' '])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse() {
            return Some(n);
        }
    }
    None
}

/// Lines `line - around ..= line + around` of `input` (1-based), numbered, the failing one marked.
fn excerpt(input: &str, line: usize, around: usize) -> String {
    let first = line.saturating_sub(around).max(1);
    input
        .lines()
        .enumerate()
        .map(|(i, text)| (i + 1, text))
        .filter(|(n, _)| (first..=line + around).contains(n))
        .map(|(n, text)| {
            let mark = if n == line { ">" } else { " " };
            format!("{mark}{n:>6} | {text}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_line_is_found_in_every_tool_s_wording() {
        assert_eq!(
            failing_line("iptables-nft-restore: line 4 failed: No chain"),
            Some(4)
        );
        assert_eq!(
            failing_line("iptables-nft-restore v1.8.9 (nf_tables): \nline 6: CHAIN_DEL failed"),
            Some(6)
        );
        assert_eq!(
            failing_line("Couldn't load match `foo'\n\nError occurred at line: 12\nTry"),
            Some(12)
        );
        assert_eq!(
            failing_line(
                "ipset v7.17: Error in line 3: The set with the given name does not exist"
            ),
            Some(3)
        );
        assert_eq!(
            failing_line("Another app is currently holding the xtables lock"),
            None
        );
    }

    #[test]
    fn excerpt_marks_the_failing_line_between_its_neighbours() {
        let input = "a\nb\nc\nd\ne\nf\n";
        assert_eq!(
            excerpt(input, 2, 1),
            "      1 | a\n>     2 | b\n      3 | c"
        );
        assert_eq!(excerpt(input, 1, 2).lines().count(), 3);
    }
}
