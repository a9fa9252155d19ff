//! Feeds arbitrary bytes to the front end: parse, resolve and check must
//! never panic, hang or overflow the stack, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let analysis = integ_compiler::check_source("fuzz.integ", &text);
    // Rendering walks every label's span: it must cope with any of them.
    let _ = integ_compiler::diagnostic::render::render(analysis.sources(), analysis.diagnostics(), false);
});
