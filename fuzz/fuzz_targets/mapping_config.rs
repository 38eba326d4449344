//! The mapping config reader takes any bytes a user can paste: it must answer with a config or
//! with errors, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = esm::config::MappingConfig::from_json(text) {
        // Every fault names its field: an empty error list would be a refusal that says nothing.
        assert!(!errors.0.is_empty(), "a refusal without a fault for {text:?}");
        let _ = errors.to_string();
    }
});
