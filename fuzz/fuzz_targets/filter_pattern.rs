//! Filter patterns come from users and record values from producers: parsing any pattern and
//! matching it against any value must answer, never panic or hang. Input: the pattern text, a
//! NUL byte, then the record value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pattern, value) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(pattern) else {
        return;
    };
    if let Ok(pattern) = esm::filter::Pattern::parse(text) {
        let matched = pattern.matches_value(value);
        // One pattern as the only filter decides exactly as the pattern does.
        assert_eq!(esm::filter::passes(std::slice::from_ref(&pattern), value), matched);
    }
});
