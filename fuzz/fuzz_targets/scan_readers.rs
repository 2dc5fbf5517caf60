//! Every reader of `scan` on the same bytes, decoded as scan decodes a file, and the
//! renderers on a finding made of them: nothing may panic, and no line of the text, JSON or
//! SARIF output may start a workflow command or hold `##[`.

#![no_main]

use std::path::PathBuf;

use go_disk_guard::scan::directives::{self, Dialect};
use go_disk_guard::scan::{Context, Finding, Problem, Rule, ScanReport, golex, paths, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (literals, _) = golex::string_literals(&text);
    let mut found: Vec<String> = Vec::new();
    for lit in &literals {
        found.extend(paths::find(&lit.value, b'C').into_iter().map(|h| h.path));
    }
    for work in [false, true] {
        found.extend(directives::go_mod(&text, work).into_iter().map(|h| h.path));
    }
    for dialect in [Dialect::Yaml, Dialect::Script] {
        found.extend(
            directives::assignments(&text, dialect, b'C')
                .into_iter()
                .map(|h| h.path),
        );
    }
    found.extend(paths::find(&text, b'C').into_iter().map(|h| h.path));

    // The input as a file name too: its bytes, where the system allows any.
    #[cfg(unix)]
    let file = {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(data))
    };
    #[cfg(not(unix))]
    let file = PathBuf::from(&*text);
    let source = literals
        .first()
        .map_or(text.to_string(), |l| l.source.to_string());
    let report = ScanReport {
        files_scanned: 1,
        findings: Rule::ALL
            .iter()
            .zip(found.into_iter().chain([text.to_string()]))
            .map(|(&rule, path)| Finding {
                file: file.clone(),
                line: 1,
                column: u32::MAX,
                rule,
                context: Context::GoString,
                path,
                source: source.clone(),
            })
            .collect(),
        problems: vec![Problem {
            file: file.clone(),
            message: text.to_string(),
        }],
    };
    let json = render::json(&report);
    let sarif = render::sarif(&report, &file);
    for doc in [&json, &sarif] {
        serde_json::from_str::<serde_json::Value>(doc).expect("valid JSON");
    }
    for out in [&render::text(&report), &json, &sarif] {
        for line in out.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
            assert!(!line.contains("##["), "{line:?}");
        }
    }
});
