//! The configuration file: TOML text to validated settings, as `vpcflow
//! check` reads it. The binary has no library target, so its configuration
//! sources are compiled in here.
#![no_main]
#![allow(dead_code, unused_imports)]

#[path = "../../crates/vpcflow/src/config/mod.rs"]
mod config;
#[path = "../../crates/vpcflow/src/ip_ranges.rs"]
mod ip_ranges;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lookup = |name: &str| (name == "FUZZ").then(|| "value".to_string());
    match config::parse_text(text, "fuzz.toml", &lookup)
        .and_then(|file| config::build(file, &config::Overrides::default()))
    {
        Ok(_) => {}
        // Errors name what is wrong in a few lines, however long the input.
        Err(e) => {
            let shown = format!("{e:#}");
            assert!(!shown.is_empty());
        }
    }
});
