//! `printf FORMAT [ARGUMENT…]` (POSIX XCU printf, with bash's escapes): the format is reused
//! while arguments remain, conversions take flags, width and precision (`%-10s`, `%03d`,
//! `%.2s`), and `%b` expands the escapes of its argument. Written here rather than taken
//! from a crate because the arguments are abstract values: an unknown argument stays an
//! unknown piece of the output instead of making the whole output unknown.

use crate::value::Val;

/// The output of `printf`; `None` when the format is not known or uses what is not modelled
/// (`%q`, floating point, `*` widths, a number that is not one).
pub(super) fn printf(rest: &[Val]) -> Option<Val> {
    let fmt: Vec<char> = rest.first()?.known()?.chars().collect();
    let args = &rest[1..];
    let mut next = 0usize;
    let mut out = Val::default();
    loop {
        let before = next;
        let mut i = 0;
        while i < fmt.len() {
            let c = fmt[i];
            i += 1;
            match c {
                '\\' => {
                    let (text, used) = escape(&fmt[i..], false);
                    out.push(&Val::lit(text));
                    i += used;
                }
                '%' => {
                    let spec = Spec::parse(&fmt, &mut i)?;
                    if spec.conv == '%' {
                        out.push(&Val::lit("%"));
                        continue;
                    }
                    let arg = args.get(next);
                    next += usize::from(arg.is_some());
                    out.push(&spec.apply(arg)?);
                }
                c => out.push(&Val::lit(c.to_string())),
            }
        }
        // Reused while arguments remain, as long as the format consumes some.
        if next >= args.len() || next == before {
            break;
        }
    }
    Some(out)
}

/// One conversion: `%[flags][width][.precision]conv`.
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alt: bool,
    width: usize,
    precision: Option<usize>,
    conv: char,
}

impl Spec {
    /// Reads a conversion starting after its `%`; advances `i` past it.
    fn parse(fmt: &[char], i: &mut usize) -> Option<Spec> {
        let mut s = Spec {
            left: false,
            zero: false,
            plus: false,
            space: false,
            alt: false,
            width: 0,
            precision: None,
            conv: '%',
        };
        while let Some(&f) = fmt.get(*i) {
            match f {
                '-' => s.left = true,
                '0' => s.zero = true,
                '+' => s.plus = true,
                ' ' => s.space = true,
                '#' => s.alt = true,
                _ => break,
            }
            *i += 1;
        }
        s.width = digits(fmt, i)?;
        if fmt.get(*i) == Some(&'.') {
            *i += 1;
            s.precision = Some(digits(fmt, i)?);
        }
        s.conv = *fmt.get(*i)?;
        *i += 1;
        Some(s)
    }

    /// The conversion of `arg` (absent: an empty string, or 0).
    fn apply(&self, arg: Option<&Val>) -> Option<Val> {
        let text = match arg {
            Some(v) => match v.known() {
                Some(t) => t,
                // An unknown argument stays unknown, whatever the conversion makes of it.
                None if "sbdiuxXoc".contains(self.conv) => return Some(v.clone()),
                None => return None,
            },
            None => String::new(),
        };
        let body = match self.conv {
            's' => match self.precision {
                Some(p) => text.chars().take(p).collect(),
                None => text,
            },
            'b' => {
                let chars: Vec<char> = text.chars().collect();
                let mut s = String::new();
                let mut i = 0;
                while i < chars.len() {
                    if chars[i] == '\\' {
                        let (t, used) = escape(&chars[i + 1..], true);
                        s.push_str(&t);
                        i += 1 + used;
                    } else {
                        s.push(chars[i]);
                        i += 1;
                    }
                }
                match self.precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'c' => text.chars().next().map(String::from).unwrap_or_default(),
            'd' | 'i' | 'u' | 'x' | 'X' | 'o' => return Some(Val::lit(self.number(&text)?)),
            _ => return None,
        };
        Some(Val::lit(self.pad(body)))
    }

    /// An integer conversion of `text` (empty is 0; `'c` is the code of `c`).
    fn number(&self, text: &str) -> Option<String> {
        let t = text.trim_start();
        let n: i64 = if let Some(c) = t.strip_prefix(['\'', '"']) {
            c.chars().next().map_or(0, |c| i64::from(u32::from(c)))
        } else if t.is_empty() {
            0
        } else if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            i64::from_str_radix(h, 16).ok()?
        } else if t.len() > 1 && t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit()) {
            i64::from_str_radix(&t[1..], 8).ok()?
        } else {
            t.parse().ok()?
        };
        let magnitude = n.unsigned_abs();
        let mut digits = match self.conv {
            'x' => format!("{magnitude:x}"),
            'X' => format!("{magnitude:X}"),
            'o' => format!("{magnitude:o}"),
            _ => magnitude.to_string(),
        };
        if let Some(p) = self.precision {
            while digits.len() < p {
                digits.insert(0, '0');
            }
        }
        let sign = if n < 0 {
            "-"
        } else if self.plus && "di".contains(self.conv) {
            "+"
        } else if self.space && "di".contains(self.conv) {
            " "
        } else {
            ""
        };
        let prefix = match (self.alt, self.conv) {
            (true, 'x') if n != 0 => "0x",
            (true, 'X') if n != 0 => "0X",
            (true, 'o') if !digits.starts_with('0') => "0",
            _ => "",
        };
        let lead = format!("{sign}{prefix}");
        if self.zero && !self.left && self.precision.is_none() {
            let fill = self.width.saturating_sub(lead.len() + digits.len());
            return Some(format!("{lead}{}{digits}", "0".repeat(fill)));
        }
        Some(self.pad(format!("{lead}{digits}")))
    }

    /// `body` padded with spaces to the width.
    fn pad(&self, body: String) -> String {
        let fill = self.width.saturating_sub(body.chars().count());
        if fill == 0 {
            body
        } else if self.left {
            format!("{body}{}", " ".repeat(fill))
        } else {
            format!("{}{body}", " ".repeat(fill))
        }
    }
}

/// A run of decimal digits at `i` (0 when none); `None` for a `*` width, not modelled.
fn digits(fmt: &[char], i: &mut usize) -> Option<usize> {
    if fmt.get(*i) == Some(&'*') {
        return None;
    }
    let mut n = 0usize;
    while let Some(d) = fmt.get(*i).and_then(|c| c.to_digit(10)) {
        n = n.saturating_mul(10).saturating_add(d as usize).min(4096);
        *i += 1;
    }
    Some(n)
}

/// The character an escape after a backslash stands for, and how many characters it took.
/// `for_b` is `%b`'s flavour, where an octal escape is written `\0NNN`.
fn escape(rest: &[char], for_b: bool) -> (String, usize) {
    let Some(&c) = rest.first() else {
        return ("\\".into(), 0);
    };
    let simple = match c {
        '\\' => Some('\\'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'e' | 'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '"' if !for_b => Some('"'),
        '\'' if !for_b => Some('\''),
        _ => None,
    };
    if let Some(s) = simple {
        return (s.to_string(), 1);
    }
    if c.is_digit(8) {
        // `\NNN`; under `%b`, `\0NNN` (the 0 does not count).
        let (skip, max) = if for_b && c == '0' { (1, 3) } else { (0, 3) };
        let oct: String = rest[skip..]
            .iter()
            .take(max)
            .take_while(|d| d.is_digit(8))
            .collect();
        let code = u32::from_str_radix(&oct, 8).unwrap_or(0) & 0xff;
        let ch = char::from_u32(code).unwrap_or('\0');
        return (ch.to_string(), skip + oct.len());
    }
    if c == 'x' {
        let hex: String = rest[1..]
            .iter()
            .take(2)
            .take_while(|d| d.is_ascii_hexdigit())
            .collect();
        if !hex.is_empty() {
            let code = u32::from_str_radix(&hex, 16).unwrap_or(0);
            return (
                char::from_u32(code).unwrap_or('\0').to_string(),
                1 + hex.len(),
            );
        }
    }
    // Not an escape: the backslash stays.
    (format!("\\{c}"), 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fmt: &str, args: &[&str]) -> Option<String> {
        let mut v = vec![Val::lit(fmt)];
        v.extend(args.iter().map(|a| Val::lit(*a)));
        printf(&v).map(|o| o.known().expect("known output"))
    }

    #[test]
    fn formats_as_the_shells_do() {
        // Expected outputs are bash's (`printf` builtin), checked by hand.
        let cases: &[(&str, &[&str], &str)] = &[
            ("%s\\n", &["a", "b", "c"], "a\nb\nc\n"),
            ("%s=%s ", &["k", "v", "k2"], "k=v k2= "),
            ("%s\\0", &["a", "b c"], "a\0b c\0"),
            ("[%5s|%-3s|%.2s]", &["ab", "c", "xyz"], "[   ab|c  |xy]"),
            (
                "%03d|%d|%+d|%x|%X|%#o|%c",
                &["7", "-4", "5", "255", "255", "8", "xyz"],
                "007|-4|+5|ff|FF|010|x",
            ),
            ("%d %d", &["'A", ""], "65 0"),
            ("%b|%s", &["a\\tb\\0101", "a\\tb"], "a\tbA|a\\tb"),
            ("a\\tb\\101\\x41\\q%%", &[], "a\tbAA\\q%"),
            ("no args %s|%d", &[], "no args |0"),
            ("%s", &[], ""),
        ];
        for (fmt, args, want) in cases {
            assert_eq!(
                run(fmt, args).as_deref(),
                Some(*want),
                "printf '{fmt}' {args:?}"
            );
        }
    }

    #[test]
    fn what_is_not_modelled_is_unknown_and_unknown_arguments_stay_unknown() {
        for (fmt, args) in [
            ("%q", &["a"][..]),
            ("%f", &["1"]),
            ("%*d", &["3", "1"]),
            ("%d", &["x"]),
        ] {
            assert_eq!(run(fmt, args), None, "printf '{fmt}' {args:?}");
        }
        let out = printf(&[Val::lit("<%s>"), Val::unknown("$X", "test")]).expect("output");
        assert_eq!(out.known(), None);
        assert_eq!(out.to_string(), "<<$X: test>>");
    }
}
