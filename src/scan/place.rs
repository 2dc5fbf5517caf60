//! Where a string lives: in test data (a `_test.go` file, `testdata/`, an example or fixture
//! directory, Go code that only builds with a test tag), and which paths a platform brings
//! along (an official `golang` image's GOROOT and GOPATH, a hosted runner's tool cache).

use std::path::Path;

/// Directory names whose contents are test data, examples or fixtures (compared ignoring
/// ASCII case).
const TEST_DIRS: &[&str] = &[
    "testdata",
    "_testdata",
    "test-data",
    "test_data",
    "test",
    "tests",
    "e2e",
    "fixtures",
    "fixture",
    "__fixtures__",
    "testfixtures",
    "test-fixtures",
    "examples",
    "example",
    "_examples",
    "_example",
    "_fixtures",
    "fuzzing",
];

/// Build tags that only test runs set: Go code that needs one of them ships in no build.
const TEST_TAGS: &[&str] = &[
    "integration",
    "integrationtest",
    "integration_test",
    "e2e",
    "e2etest",
    "test",
    "tests",
    "testing",
    "acceptance",
    "functional",
    "systemtest",
    "smoke",
    "ignore",
];

/// Whether `file` (as the walk found it) is test data by its name and place: a `_test.go`
/// file, or anything under a test, fixture or example directory. CI files under
/// `.github/` are never test data.
pub fn is_test_path(file: &Path) -> bool {
    let name = file
        .file_name()
        .map(|n| n.as_encoded_bytes().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(b"_test.go") {
        return true;
    }
    let mut test_dir = false;
    if let Some(parent) = file.parent() {
        for c in parent.components() {
            let c = c.as_os_str().as_encoded_bytes();
            if c == b".github" {
                return false;
            }
            test_dir |= TEST_DIRS
                .iter()
                .any(|d| c.eq_ignore_ascii_case(d.as_bytes()));
        }
    }
    test_dir
}

/// Whether Go source only builds with a test tag: a `//go:build` line before the package
/// clause whose expression requires one (`integration`, `e2e`, `ignore`, …) and offers no
/// alternative (`||`).
pub fn builds_only_for_tests(src: &str) -> bool {
    for line in src.lines() {
        let line = line.trim();
        if line.starts_with("package ") || line == "package" {
            return false;
        }
        let Some(expr) = line.strip_prefix("//go:build") else {
            continue;
        };
        if !expr.starts_with([' ', '\t']) || expr.contains("||") {
            return false;
        }
        return expr.split("&&").any(|term| {
            let term = term.trim().trim_matches(['(', ')']).trim();
            TEST_TAGS.contains(&term)
        });
    }
    false
}

/// Which hosted runner images a workflow's jobs run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Runners {
    pub windows: bool,
    pub linux: bool,
    pub macos: bool,
}

impl Runners {
    /// Every image: for an action (`action.yml`), which runs wherever it is used.
    pub const ALL: Runners = Runners {
        windows: true,
        linux: true,
        macos: true,
    };

    /// The images named by a workflow's `runs-on:` lines; when one is an expression
    /// (`${{ matrix.os }}`), the images named anywhere in the file (the matrix's values).
    pub fn of_workflow(src: &str) -> Runners {
        let mut runners = Runners::default();
        let mut indirect = false;
        for line in src.lines() {
            let trimmed = line.trim_start().trim_start_matches("- ");
            if let Some(value) = trimmed.strip_prefix("runs-on:") {
                indirect |= value.contains("${{");
                runners.add_named(value);
            }
        }
        if indirect {
            runners.add_named(src);
        }
        runners
    }

    fn add_named(&mut self, text: &str) {
        let lower = text.to_ascii_lowercase();
        self.windows |= lower.contains("windows-");
        self.linux |= lower.contains("ubuntu-");
        self.macos |= lower.contains("macos-");
    }

    /// Whether `path` is the runner image's own: its tool cache, where setup-go installs Go
    /// (`C:\hostedtoolcache`, `/opt/hostedtoolcache`, `/Users/runner/hostedtoolcache`), or on
    /// Windows its MSYS2 (`C:\msys64`) and Chocolatey (`C:\ProgramData\chocolatey`). A path under the runner's user profile is not:
    /// the workflow chose it, and it is still a pin.
    pub fn owns(self, path: &str) -> bool {
        let mut p = path.replace('\\', "/").to_ascii_lowercase();
        // A path written for a shell that unescapes it (`C:\\x`) is the same path.
        while p.contains("//") {
            p = p.replace("//", "/");
        }
        (self.windows
            && [
                "c:/hostedtoolcache/",
                "c:/msys64/",
                "c:/programdata/chocolatey/",
            ]
            .iter()
            .any(|own| p.starts_with(own) || p == own.trim_end_matches('/')))
            || (self.linux && p.starts_with("/opt/hostedtoolcache/"))
            || (self.macos && p.starts_with("/users/runner/hostedtoolcache/"))
    }
}

/// The stages of a Dockerfile: for each line (0-based), whether it belongs to a stage built
/// `FROM` an official Go image (`golang:…`, `docker.io/library/golang@…`, or a stage that
/// was).
pub fn golang_stages(src: &str) -> Vec<bool> {
    let mut out = Vec::new();
    let mut golang_names: Vec<String> = Vec::new();
    let mut current = false;
    for line in src.lines() {
        let mut words = line.split_whitespace();
        if words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            let mut rest = words.skip_while(|w| w.starts_with("--"));
            let image = rest.next().unwrap_or_default().to_ascii_lowercase();
            current = is_golang_image(&image) || golang_names.contains(&image);
            let alias = rest.next().is_some_and(|w| w.eq_ignore_ascii_case("AS"));
            if alias
                && current
                && let Some(name) = rest.next()
            {
                golang_names.push(name.to_ascii_lowercase());
            }
        }
        out.push(current);
    }
    out
}

fn is_golang_image(image: &str) -> bool {
    let bare = ["docker.io/library/", "index.docker.io/library/", "library/"]
        .iter()
        .find_map(|prefix| image.strip_prefix(prefix))
        .unwrap_or(image);
    bare.strip_prefix("golang")
        .is_some_and(|tag| tag.is_empty() || tag.starts_with([':', '@']))
}

/// Whether `path` is one of an official Go image's own: its GOROOT (`/usr/local/go`), its
/// GOPATH (`/go`) and root's build cache (`/root/.cache/go-build`).
pub fn golang_image_owns(path: &str) -> bool {
    ["/usr/local/go", "/go", "/root/.cache/go-build"]
        .iter()
        .any(|own| {
            path.strip_prefix(own)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// Whether the paths `hits` stand in prose: four words or more outside them (a help text,
/// an error message, documentation in a raw string), which no build reads as a path.
pub fn is_prose(value: &str, hits: &[super::paths::PathHit]) -> bool {
    let mut words = 0usize;
    let mut at = 0usize;
    let mut count = |text: &str| {
        words += text
            .split_whitespace()
            .map(|w| {
                w.trim_matches(|c: char| {
                    matches!(
                        c,
                        '.' | ',' | ':' | ';' | '(' | ')' | '\'' | '"' | '!' | '?'
                    )
                })
            })
            .filter(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_alphabetic()))
            .count();
    };
    // A Windows path may hold spaces, so that one found in prose runs on over the words
    // after it: only its first word is taken for the path.
    for h in hits {
        count(value.get(at..h.start).unwrap_or_default());
        let first_word = h.path.split_whitespace().next().unwrap_or_default();
        at = h.start.saturating_add(first_word.len());
    }
    count(value.get(at..).unwrap_or_default());
    words >= 4
}

/// Whether the path at byte `start` of a string opens a Markdown code span (`` `C:\x` ``):
/// documentation.
pub fn in_code_span(value: &str, start: usize) -> bool {
    start
        .checked_sub(1)
        .and_then(|i| value.as_bytes().get(i))
        .is_some_and(|&b| b == b'`')
}

/// Whether a Go string is compared with rather than used: the code before it on its line
/// ends with `==` or `!=`, or the line is a `case` (`case "/usr/local/go":`). A path a
/// program recognises pins nothing.
pub fn is_comparison(before: &str) -> bool {
    let t = before.trim();
    t.ends_with("==") || t.ends_with("!=") || t == "case" || t.starts_with("case ")
}

/// Whether a path has one of Go's directories in it: a `go`, `golang`, `gopath`,
/// `go-build` component, a module cache, a tool cache.
pub fn go_dir(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let mut previous = "";
    lower.split(['\\', '/']).any(|p| {
        let found = matches!(
            p,
            "go" | "golang"
                | "gopath"
                | "goroot"
                | "go-build"
                | "gocache"
                | "gomodcache"
                | "hostedtoolcache"
                | "toolcache"
        ) || (previous == "pkg" && p == "mod");
        previous = p;
        found
    })
}

/// Whether a path says it does not exist (`/nonexistent`, `C:\does-not-exist\go`): a
/// sentinel that a test or a script sets so that nothing is found there.
pub fn says_it_does_not_exist(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [
        "nonexist",
        "non-exist",
        "non_exist",
        "not-exist",
        "notexist",
        "not_exist",
        "doesnotexist",
        "no-such",
        "nosuch",
        "no_such",
    ]
    .iter()
    .any(|word| lower.contains(word))
}

/// Whether a drive path is one of Go's directories (a `go`, `golang`, `gopath`, `go-build`
/// component, a module cache, a tool cache) or in a user's profile (`C:\Users\<name>`):
/// what the drive rules are for. Other drive paths in Go code (`C:\`, a product's own
/// `C:\ProgramData\…`) are a program's business, not a build's.
pub fn go_or_user_dir(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
    let user = parts.get(1).is_some_and(|&p| p == "users") && parts.len() >= 3;
    go_dir(path) || user
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths() {
        for p in [
            "a/b_test.go",
            "testdata/x.go",
            "pkg/testdata/go.mod",
            "examples/demo/main.go",
            "internal/Fixtures/build.sh",
            "test/e2e/run.sh",
        ] {
            assert!(is_test_path(Path::new(p)), "{p}");
        }
        for p in [
            "main.go",
            "cmd/testing.go",
            "latest/x.go",
            ".github/workflows/test.yml",
            "build/test.sh",
            "test.go",
        ] {
            assert!(!is_test_path(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn build_tags() {
        assert!(builds_only_for_tests(
            "// Copyright\n\n//go:build integration\n\npackage x\n"
        ));
        assert!(builds_only_for_tests(
            "//go:build linux && e2e\npackage x\n"
        ));
        assert!(!builds_only_for_tests("//go:build linux\npackage x\n"));
        assert!(!builds_only_for_tests(
            "//go:build e2e || linux\npackage x\n"
        ));
        assert!(!builds_only_for_tests(
            "//go:build !integration\npackage x\n"
        ));
        assert!(!builds_only_for_tests(
            "package x\n//go:build integration\n"
        ));
    }

    #[test]
    fn runners_and_their_paths() {
        let w = Runners::of_workflow("jobs:\n  a:\n    runs-on: windows-2022\n");
        assert_eq!(
            w,
            Runners {
                windows: true,
                ..Runners::default()
            }
        );
        assert!(w.owns(r"C:\hostedtoolcache\windows\go\1.22.0\x64\bin"));
        assert!(!w.owns(r"C:\Users\runneradmin\.local\bin"));
        assert!(!w.owns("/opt/hostedtoolcache/go"));
        let m = Runners::of_workflow(
            "strategy:\n  matrix:\n    os: [ubuntu-latest, macos-14]\nruns-on: ${{ matrix.os }}\n",
        );
        assert!(m.linux && m.macos && !m.windows);
        assert_eq!(
            Runners::of_workflow("runs-on: [self-hosted, linux]\n"),
            Runners::default()
        );
    }

    #[test]
    fn prose_and_go_directories() {
        let hits = |v: &str| super::super::paths::find(v, b'C');
        let v = "Using the C:\\Windows\\Temp folder is not supported. Please use another";
        assert!(is_prose(v, &hits(v)));
        let v = "C:\\Temp\\terraform_%RAND%.cmd";
        assert!(!is_prose(v, &hits(v)));
        let v = "cd /home/ci/go && make";
        assert!(!is_prose(v, &hits(v)));
        assert!(in_code_span("use `C:\\x` here", 5));
        assert!(go_or_user_dir("C:\\Go\\bin"));
        assert!(go_or_user_dir("c:/users/me/src"));
        assert!(go_or_user_dir("C:\\x\\pkg\\mod\\y"));
        assert!(!go_or_user_dir("C:\\"));
        assert!(!go_or_user_dir("C:\\ProgramData\\Docker\\secrets"));
        assert!(!go_or_user_dir("C:\\Users"));
        assert!(go_dir("/home/ci/go/bin"));
        assert!(!go_dir("/home/coq/tools/bin"));
        assert!(is_comparison("\tcase "));
        assert!(is_comparison("if goroot == "));
        assert!(!is_comparison("x := "));
        assert!(says_it_does_not_exist("c:\\nonexist-gopath"));
        assert!(says_it_does_not_exist("/home/x/does-not-exist"));
        assert!(!says_it_does_not_exist("/home/x/go"));
    }

    #[test]
    fn dockerfile_stages() {
        let src = "FROM golang:1.22 AS build\nENV GOROOT /usr/local/go\nFROM build AS test\nENV X 1\nFROM --platform=$BUILDPLATFORM alpine\nENV GOROOT /usr/local/go\nFROM docker.io/library/golang@sha256:abc\n";
        assert_eq!(
            golang_stages(src),
            [true, true, true, true, false, false, true]
        );
        assert!(golang_image_owns("/usr/local/go/bin"));
        assert!(golang_image_owns("/go/pkg/mod"));
        assert!(!golang_image_owns("/golang"));
        assert!(!is_golang_image("golangci/golangci-lint:v1"));
    }
}
