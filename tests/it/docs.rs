//! The README's copy-paste examples are the files in `examples/`, to the byte, and its
//! settings table is the settings.

use std::fs;
use std::path::Path;

/// The fenced block that follows the marker `<!-- path -->` in the README.
fn readme_block(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let marker = format!("<!-- {path} -->\n");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker:?} in README.md"));
    let after = &readme[start + marker.len()..];
    let body_start = after.find('\n').unwrap() + 1;
    let body_end = after[body_start..].find("```").unwrap();
    after[body_start..body_start + body_end].to_string()
}

#[test]
fn the_readme_jenkinsfile_is_the_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = fs::read_to_string(root.join("examples/jenkins/Jenkinsfile")).unwrap();
    assert_eq!(readme_block("examples/jenkins/Jenkinsfile"), example);
}

#[test]
fn the_readme_workflow_is_the_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = fs::read_to_string(root.join("examples/github/basic.yml")).unwrap();
    assert_eq!(readme_block("examples/github/basic.yml"), example);
}

/// The cells of the rows of the README's settings table ("### Settings"), header and rule
/// left out.
fn readme_settings_rows() -> Vec<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("\n### Settings\n")
        .expect("no ### Settings in README.md");
    readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The first `code` span of a cell.
fn first_code(cell: &str) -> &str {
    cell.split('`').nth(1).unwrap_or(cell)
}

#[test]
fn the_readme_settings_table_is_the_settings() {
    use go_disk_guard::settings::{InFile, SETTINGS};
    let rows = readme_settings_rows();
    for setting in SETTINGS {
        let env = setting.env_var();
        let row = rows
            .iter()
            .find(|r| r.get(1).is_some_and(|c| c == &format!("`{env}`")))
            .unwrap_or_else(|| panic!("no row for {env} in README.md's settings table"));
        let key = match setting.in_file {
            InFile::Allowed => format!("`{}`", setting.key),
            InFile::Refused(_) => "—".to_string(),
        };
        assert_eq!(row[0], key, "{env}: the file key");
        assert_eq!(
            first_code(&row[2]),
            format!("--{}", setting.flag),
            "{env}: the flag"
        );
        assert_eq!(
            row[3].replace('`', ""),
            setting.default.unwrap_or("none"),
            "{env}: the default"
        );
    }
    assert_eq!(
        rows.len(),
        SETTINGS.len(),
        "README.md's settings table has rows for no setting: {rows:?}"
    );
}
