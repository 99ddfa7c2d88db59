//! A reader for the plain-object-literal form of JavaScript config files
//! (`module.exports = { apps: [ … ] }`), as pm2's `ecosystem.config.js` usually is.
//!
//! It rewrites the JSON5-like subset into JSON and hands it to `serde_json`: `//` and
//! `/* */` comments, unquoted identifier keys, single-quoted strings and trailing commas.
//! Anything that is code — a bare identifier as a value (`__dirname`, `process.env.X`),
//! template literals, calls, `require` — is refused with the reason, so the caller can say
//! the file was not plain data. It evaluates nothing.
//!
//! Why not the `json5` crate: it parses a JSON5 document, not a JavaScript module, so
//! `module.exports = …` and a code value such as `__dirname` both come back as one opaque
//! syntax error; the caller needs the object and, when it cannot have it, which value was
//! code. The rewrite into JSON is about a hundred lines and `serde_json` does the parsing.

use serde_json::Value;

/// The value of `module.exports = …;` (or a bare object literal) in `src`.
pub(crate) fn module_exports(src: &str) -> Result<Value, String> {
    let body = match src.find("module.exports") {
        Some(i) => {
            let rest = &src[i + "module.exports".len()..];
            rest.trim_start()
                .strip_prefix('=')
                .ok_or("module.exports is not assigned")?
        }
        None => src,
    };
    let json = to_json(body.trim())?;
    serde_json::from_str(&json).map_err(|e| format!("not a plain object literal: {e}"))
}

/// JSON text for one JSON5-ish value at the start of `src` (what follows it must be `;`
/// or nothing).
fn to_json(src: &str) -> Result<String, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            '"' | '\'' => i = string(&chars, i, &mut out)?,
            '`' => return Err("template literals are code, not data".into()),
            ',' => {
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if !matches!(next, Some('}' | ']')) {
                    out.push(',');
                }
                i += 1;
            }
            ';' => {
                let rest: String = chars[i + 1..].iter().collect();
                if rest.trim().is_empty() {
                    return Ok(out);
                }
                return Err("more statements after module.exports".into());
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => i = identifier(&chars, i, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A quoted string at `i`, written as a JSON string; the index after it.
fn string(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let quote = chars[i];
    i += 1;
    let mut s = String::new();
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' {
            i += 1;
            match chars.get(i) {
                Some('n') => s.push('\n'),
                Some('t') => s.push('\t'),
                Some(c) => s.push(*c),
                None => break,
            }
        } else {
            s.push(chars[i]);
        }
        i += 1;
    }
    if i >= chars.len() {
        return Err("unterminated string".into());
    }
    out.push_str(&serde_json::to_string(&s).map_err(|e| e.to_string())?);
    Ok(i + 1)
}

/// An identifier at `i`: a key (followed by `:`), or `true`/`false`/`null`; anything else
/// is code.
fn identifier(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let start = i;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
        i += 1;
    }
    let word: String = chars[start..i].iter().collect();
    let next = chars[i..].iter().find(|c| !c.is_whitespace());
    if next == Some(&':') {
        out.push_str(&serde_json::to_string(&word).map_err(|e| e.to_string())?);
    } else if matches!(word.as_str(), "true" | "false" | "null") {
        out.push_str(&word);
    } else {
        return Err(format!("{word} is code, not data"));
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_plain_object_literals() {
        #[rustfmt::skip]
        let cases: &[(&str, Value)] = &[
            ("module.exports = { apps: [{ name: 'web', script: './app.js', }], };", json!({"apps": [{"name": "web", "script": "./app.js"}]})),
            ("// c\nmodule.exports = {\n  /* x */ a: \"b\", n: 3, t: true, z: null\n}\n", json!({"a": "b", "n": 3, "t": true, "z": null})),
            ("{\"apps\": []}", json!({"apps": []})),
            ("module.exports = {s: 'it\\'s \"q\"'}", json!({"s": "it's \"q\""})),
        ];
        for (src, want) in cases {
            assert_eq!(module_exports(src).as_ref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn refuses_code() {
        for src in [
            "module.exports = { cwd: __dirname }",
            "module.exports = { script: `${x}` }",
            "module.exports = { a: require('x') }",
            "module.exports = {a: 1}; console.log(1)",
            "module.exports = { a: 'open",
            "module.exports",
        ] {
            assert!(module_exports(src).is_err(), "{src}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = module_exports(&String::from_utf8_lossy(&bytes));
        }
    }
}
