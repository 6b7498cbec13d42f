//! Corefile tokens (the Caddyfile syntax CoreDNS uses): words separated by blanks, `{` and
//! `}`, `"quoted strings"`, `#` comments to the end of the line. Each token keeps its line,
//! so errors and warnings can name it.

use crate::error::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub line: usize,
    /// A quoted token is never `{` or `}` syntax.
    pub quoted: bool,
}

impl Token {
    pub fn is(&self, s: &str) -> bool {
        !self.quoted && self.text == s
    }
}

pub fn tokens(input: &str) -> Result<Vec<Token>, Error> {
    let mut out = Vec::new();
    for (i, raw) in input.lines().enumerate() {
        let line = i + 1;
        let mut chars = raw.chars().peekable();
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut Vec<Token>| {
            if !word.is_empty() {
                out.push(Token {
                    text: std::mem::take(word),
                    line,
                    quoted: false,
                });
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '#' if word.is_empty() => break,
                c if c.is_whitespace() => flush(&mut word, &mut out),
                '"' if word.is_empty() => {
                    let mut s = String::new();
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => s.extend(chars.next()),
                            Some(c) => s.push(c),
                            None => {
                                return Err(Error::Corefile {
                                    line,
                                    directive: "\"".into(),
                                    reason: "unterminated quoted string".into(),
                                });
                            }
                        }
                    }
                    out.push(Token {
                        text: s,
                        line,
                        quoted: true,
                    });
                }
                '{' | '}' if word.is_empty() && chars.peek().is_none_or(|n| n.is_whitespace()) => {
                    out.push(Token {
                        text: c.to_string(),
                        line,
                        quoted: false,
                    });
                }
                c => word.push(c),
            }
        }
        flush(&mut word, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_braces_quotes_comments_and_lines() {
        let t = tokens(".:53 {\n  forward . \"1.1.1.1\" # upstream\n}\n").unwrap();
        let texts: Vec<(&str, usize)> = t.iter().map(|t| (t.text.as_str(), t.line)).collect();
        assert_eq!(
            texts,
            [
                (".:53", 1),
                ("{", 1),
                ("forward", 2),
                (".", 2),
                ("1.1.1.1", 2),
                ("}", 3)
            ]
        );
        assert!(t[4].quoted);
    }

    #[test]
    fn brace_glued_to_a_word_is_part_of_it() {
        let t = tokens("a{b}").unwrap();
        assert_eq!(t.len(), 1);
    }
}
