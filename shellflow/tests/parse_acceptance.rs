//! Differential test: shellflow's parser accepts exactly what `bash -n` accepts, on the
//! corpus scripts and on a table of valid and broken snippets.

use std::io::Write;
use std::process::Command;

#[path = "common/snippets.rs"]
mod snippets;
use snippets::SNIPPETS;

/// Where brush-parser and bash disagree, on purpose tracked here: none matters for
/// entrypoint scripts. The test checks they still disagree, so a fix upstream shows up.
const KNOWN_DIFFERENCES: &[(&str, bool)] = &[
    // bash accepts an empty right operand of `==` inside `[[ ]]`; brush rejects it.
    ("[[ a == ]]", true),
];

fn bash_accepts(text: &str) -> Option<bool> {
    let mut file = tempfile::NamedTempFile::new().ok()?;
    file.write_all(text.as_bytes()).ok()?;
    let out = Command::new("bash")
        .arg("-n")
        .arg(file.path())
        .output()
        .ok()?;
    Some(out.status.success())
}

#[test]
fn parse_acceptance_agrees_with_bash_n_on_corpus_and_snippets() {
    let mut texts: Vec<(String, String)> = SNIPPETS
        .iter()
        .map(|s| (format!("snippet {s:?}"), s.to_string()))
        .collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    for entry in std::fs::read_dir(dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).expect("readable"),
        ));
    }
    let Some(_) = bash_accepts("true") else {
        eprintln!("skipping: bash is not installed");
        return;
    };
    let mut disagreements = Vec::new();
    for (name, text) in &texts {
        let bash = bash_accepts(text).expect("bash runs");
        let ours = shellflow::parse::accepts(text);
        if bash != ours {
            disagreements.push(format!("{name}: bash -n {bash}, shellflow {ours}"));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    for (text, bash) in KNOWN_DIFFERENCES {
        assert_eq!(bash_accepts(text), Some(*bash), "{text}");
        assert_ne!(
            shellflow::parse::accepts(text),
            *bash,
            "{text} now agrees: drop it from the list"
        );
    }
    assert!(texts.len() > 35);
}
