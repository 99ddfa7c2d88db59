//! Differential fuzz target for shellflow's hand-written fast parse path: on any bytes
//! (read as the script, lossily), whenever the fast path takes the text, brush-parser must
//! accept it too and build the same program, spans included. Declining is always allowed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shellflow::parse::{parse_brush, parse_fast};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(fast) = parse_fast(&text) {
        let brush = parse_brush("<fuzz>", &text)
            .unwrap_or_else(|e| panic!("the fast path took text brush-parser rejects: {e}"));
        assert_eq!(format!("{brush:?}"), format!("{fast:?}"), "programs differ");
    }
});
