//! The README's copy-paste examples are the files in `examples/`, to the byte.

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
