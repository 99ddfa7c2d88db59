//! Differential fuzz target for shellflow's hand-written fast parse paths: on any bytes
//! (read as the script, lossily), whenever the fast program parser takes the text,
//! brush-parser must accept it too and build the same program, spans included; and whenever
//! the fast word splitter (`simple_word`) takes the text as one word, brush-parser's word
//! grammar must split it into the same pieces. Declining is always allowed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shellflow::parse::{parse_brush, parse_fast, parse_word_brush, simple_word};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(fast) = parse_fast(&text) {
        let brush = parse_brush("<fuzz>", &text)
            .unwrap_or_else(|e| panic!("the fast path took text brush-parser rejects: {e}"));
        assert_eq!(format!("{brush:?}"), format!("{fast:?}"), "programs differ");
    }
    if let Some(pieces) = simple_word(&text) {
        let brush = parse_word_brush(&text)
            .unwrap_or_else(|e| panic!("the word splitter took a word brush-parser rejects: {e}"));
        assert_eq!(format!("{brush:?}"), format!("{pieces:?}"), "word pieces differ");
    }
});
