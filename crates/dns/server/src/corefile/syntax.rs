//! Corefile structure: server blocks (keys, then directives in braces), each directive a
//! name, its arguments on the same line, and an optional `{ … }` block of sub-directives.

use super::lexer::Token;
use crate::error::Error;

#[derive(Clone, Debug)]
pub struct Directive {
    pub name: Token,
    pub args: Vec<Token>,
    pub block: Vec<Directive>,
}

#[derive(Clone, Debug)]
pub struct Block {
    pub keys: Vec<Token>,
    pub directives: Vec<Directive>,
}

pub fn blocks(tokens: &[Token]) -> Result<Vec<Block>, Error> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        let line = tokens[at].line;
        let mut keys = Vec::new();
        while at < tokens.len() && tokens[at].line == line && !tokens[at].is("{") {
            if tokens[at].is("}") {
                return Err(unexpected(&tokens[at]));
            }
            keys.extend(
                tokens[at]
                    .text
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .map(|k| Token {
                        text: k.to_owned(),
                        ..tokens[at].clone()
                    }),
            );
            at += 1;
        }
        if at < tokens.len() && tokens[at].is("{") {
            at += 1;
            let directives = directives(tokens, &mut at, Some(line))?;
            out.push(Block { keys, directives });
        } else {
            // One server block without braces: everything after its keys belongs to it.
            let directives = directives(tokens, &mut at, None)?;
            out.push(Block { keys, directives });
        }
    }
    Ok(out)
}

/// Directives until the `}` that closes the block opened on line `open` (or the end).
fn directives(
    tokens: &[Token],
    at: &mut usize,
    open: Option<usize>,
) -> Result<Vec<Directive>, Error> {
    let mut out = Vec::new();
    loop {
        let Some(t) = tokens.get(*at) else {
            return match open {
                Some(line) => Err(Error::Corefile {
                    line,
                    directive: "{".into(),
                    reason: "block is never closed with }".into(),
                }),
                None => Ok(out),
            };
        };
        if t.is("}") {
            if open.is_none() {
                return Err(unexpected(t));
            }
            *at += 1;
            return Ok(out);
        }
        if t.is("{") {
            return Err(unexpected(t));
        }
        let name = t.clone();
        *at += 1;
        let mut args = Vec::new();
        let mut block = Vec::new();
        while let Some(a) = tokens.get(*at)
            && a.line == name.line
        {
            *at += 1;
            if a.is("{") {
                block = directives(tokens, at, Some(a.line))?;
                break;
            }
            if a.is("}") {
                // `}` closing the enclosing block on the same line as a directive.
                *at -= 1;
                break;
            }
            args.push(a.clone());
        }
        out.push(Directive { name, args, block });
    }
}

fn unexpected(t: &Token) -> Error {
    Error::Corefile {
        line: t.line,
        directive: t.text.clone(),
        reason: "unexpected here".into(),
    }
}
