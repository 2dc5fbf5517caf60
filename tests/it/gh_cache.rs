//! `gh-cache` against a local HTTP server on loopback (wiremock) that serves GitHub's
//! documented JSON shapes: the Actions cache list (paginated with `Link`), delete by id, pull
//! requests and git refs, rate-limit and error responses. The real binary runs against it.

use crate::common::{self, assert_success};

use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const DAY: Duration = Duration::from_secs(86_400);

fn time(days_ago: u32) -> String {
    humantime::format_rfc3339_millis(SystemTime::now() - DAY * days_ago).to_string()
}

fn cache(id: u64, git_ref: &str, key: &str, size: u64, days_ago: u32) -> Value {
    json!({
        "id": id,
        "ref": git_ref,
        "key": key,
        "version": "0123abcd",
        "last_accessed_at": time(days_ago),
        "created_at": time(days_ago + 1),
        "size_in_bytes": size,
    })
}

/// Two pages of caches: main has three setup-go caches and a foreign one, a closed pull
/// request, an open one, a deleted branch.
async fn github() -> MockServer {
    let server = MockServer::start().await;
    let page1 = json!({
        "total_count": 7,
        "actions_caches": [
            cache(1, "refs/heads/main", "setup-go-Linux-x64-go-1.27.3-aaa", 300_000_000, 1),
            cache(2, "refs/heads/main", "setup-go-Linux-x64-go-1.27.3-bbb", 300_000_000, 3),
            cache(3, "refs/heads/main", "setup-go-Linux-x64-go-1.27.3-ccc", 300_000_000, 12),
            cache(4, "refs/heads/main", "node-modules-Linux-ddd", 900_000_000, 40),
        ]
    });
    let page2 = json!({
        "total_count": 7,
        "actions_caches": [
            cache(5, "refs/pull/7/merge", "setup-go-Linux-x64-go-1.27.3-eee", 200_000_000, 2),
            cache(6, "refs/pull/8/merge", "setup-go-Linux-x64-go-1.27.3-fff", 200_000_000, 2),
            cache(7, "refs/heads/gone", "setup-go-Linux-x64-go-1.27.3-ggg", 100_000_000, 5),
        ]
    });
    let next = format!(
        "<{}/repos/o/r/actions/caches?per_page=100&page=2>; rel=\"next\", <{}/repos/o/r/actions/caches?per_page=100&page=2>; rel=\"last\"",
        server.uri(),
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(page1),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .mount(&server)
        .await;
    for (n, state) in [(7, "closed"), (8, "open")] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/o/r/pulls/{n}")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"number": n, "state": state})),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/repos/o/r/git/ref/heads/main"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"ref": "refs/heads/main", "object": {"sha": "abc", "type": "commit"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/git/ref/heads/gone"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
        ))
        .mount(&server)
        .await;
    server
}

async fn delete_succeeds(server: &MockServer) {
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/repos/o/r/actions/caches/\d+$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(server)
        .await;
}

/// The binary against `server`, with no inherited GitHub settings.
fn gh_cache(server: &MockServer, args: &[&str]) -> Output {
    let mut cmd = Command::new(common::bin());
    common::without_go_or_github_env(&mut cmd)
        .arg("gh-cache")
        .args(args)
        .env("GITHUB_API_URL", server.uri())
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", "test-token")
        .output()
        .unwrap()
}

async fn deleted_ids(server: &MockServer) -> Vec<u64> {
    let requests: Vec<Request> = server.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().rsplit('/').next().unwrap().parse().unwrap())
        .collect()
}

fn planned(report: &Value) -> Vec<(u64, String)> {
    report["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_u64().unwrap(),
                d["fate"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_reads_every_page_with_the_token() {
    let server = github().await;
    let out = gh_cache(
        &server,
        &["list", "--format", "json", "--key-prefix", "setup-go-"],
    );
    assert_success(&out);
    let r = common::json(&out);
    assert_eq!(r["total_caches"], 7);
    assert_eq!(r["selected_caches"], 6);
    assert_eq!(r["selected_bytes"], 1_400_000_000u64);
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| {
        r.headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().ends_with("test-token"))
    }));
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.url.path() == "/repos/o/r/actions/caches")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_policy_deletes_exactly_its_caches_in_order() {
    let server = github().await;
    delete_succeeds(&server).await;
    let out = gh_cache(
        &server,
        &[
            "prune",
            "--format",
            "json",
            "--closed-prs",
            "--keep-per-ref",
            "1",
            "--older-than",
            "10d",
            "--max-total",
            "500MB",
        ],
    );
    assert_success(&out);
    let r = common::json(&out);
    // Closed PR #7 and the gone branch; main's older two (2, then 3 by keep-per-ref); then
    // 500 MB: 1 (300 MB) + 6 (200 MB) stay. The node cache is never selected.
    let want: Vec<(u64, String)> = [5, 7, 2, 3]
        .iter()
        .map(|&id| (id, "deleted".to_string()))
        .collect();
    assert_eq!(planned(&r), want);
    assert_eq!(deleted_ids(&server).await, [5, 7, 2, 3]);
    let reasons: Vec<&str> = r["deletions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons[0], "its pull request #7 is closed");
    assert_eq!(reasons[1], "its ref refs/heads/gone no longer exists");
    assert!(reasons[2].starts_with("not among the newest 1 for refs/heads/main"));
    assert_eq!(r["kept_bytes"], 500_000_000u64);
    assert!(r["error"].is_null());

    // --max-total alone: least recently used first among all setup-go caches.
    let server = github().await;
    delete_succeeds(&server).await;
    let out = gh_cache(
        &server,
        &["prune", "--format", "json", "--max-total", "700MB"],
    );
    assert!(out.status.success());
    // 1.4 GB selected: 3 (12d), 7 (5d), 2 (3d) go -> 700 MB.
    assert_eq!(deleted_ids(&server).await, [3, 7, 2]);
    // No ref was looked up without --closed-prs.
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| !r.url.path().contains("/pulls/")));

    // --older-than alone.
    let server = github().await;
    delete_succeeds(&server).await;
    let out = gh_cache(&server, &["prune", "--older-than", "4d"]);
    assert!(out.status.success());
    assert_eq!(deleted_ids(&server).await, [7, 3]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("deleted 2 of 2 planned"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_deletes_nothing_and_says_what_it_would() {
    let server = github().await;
    delete_succeeds(&server).await;
    let out = gh_cache(
        &server,
        &["prune", "--format", "json", "--closed-prs", "--dry-run"],
    );
    assert!(out.status.success());
    assert_eq!(
        planned(&common::json(&out)),
        [
            (5, "would-delete".to_string()),
            (7, "would-delete".to_string())
        ]
    );
    assert!(deleted_ids(&server).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_midway_stops_and_the_report_says_what_was_and_was_not_deleted() {
    let server = github().await;
    // Deleting cache 7 is refused; the others would succeed.
    Mock::given(method("DELETE"))
        .and(path("/repos/o/r/actions/caches/7"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "Resource not accessible by integration",
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    delete_succeeds(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let out = {
        let mut cmd = Command::new(common::bin());
        cmd.args([
            "gh-cache",
            "prune",
            "--format",
            "json",
            "--closed-prs",
            "--keep-per-ref",
            "1",
        ])
        .env("GITHUB_API_URL", server.uri())
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", "test-token")
        .env("GITHUB_STEP_SUMMARY", &summary);
        cmd.output().unwrap()
    };
    assert_eq!(out.status.code(), Some(1));
    let r = common::json(&out);
    assert_eq!(
        planned(&r),
        [
            (5, "deleted".to_string()),
            (7, "failed".to_string()),
            (2, "not-attempted".to_string()),
            (3, "not-attempted".to_string()),
        ]
    );
    assert_eq!(deleted_ids(&server).await, [5, 7]);
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("deleting cache 7"), "{error}");
    assert!(error.contains("actions: write"), "{error}");
    // What was not deleted still counts as kept: 1, 2, 3 and 6 (and 7).
    assert_eq!(r["kept_bytes"], 1_200_000_000u64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("go-disk-guard: error: deleting cache 7"));
    let md = std::fs::read_to_string(&summary).unwrap();
    // Keys and refs come from the server: inline code that no value can close.
    assert!(
        md.contains(
            "| <code>setup-go-Linux-x64-go-1.27.3-eee</code> | <code>refs/pull/7/merge</code> |"
        ),
        "{md}"
    );
    assert!(md.contains("**Stopped:**"), "{md}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_waited_out_and_server_errors_retried() {
    let server = github().await;
    // The first list request hits the secondary rate limit, the second the primary one
    // (remaining 0, reset in a moment); then the mounted pages answer.
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    // A deletion meets a 503 once.
    Mock::given(method("DELETE"))
        .and(path("/repos/o/r/actions/caches/7"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    delete_succeeds(&server).await;
    let started = std::time::Instant::now();
    let out = gh_cache(&server, &["prune", "--format", "json", "--closed-prs"]);
    assert_success(&out);
    assert!(started.elapsed() >= Duration::from_secs(2), "no wait");
    assert_eq!(deleted_ids(&server).await, [5, 7, 7]);
    assert_eq!(
        planned(&common::json(&out)),
        [(5, "deleted".to_string()), (7, "deleted".to_string())]
    );

    // A rate limit that resets too far away is an error, not an hour's wait.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (reset + 3600).to_string().as_str()),
        )
        .mount(&server)
        .await;
    let out = gh_cache(&server, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rate limited by GitHub"));
}

#[tokio::test(flavor = "multi_thread")]
async fn api_and_usage_errors_are_one_clear_line() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&server)
        .await;
    let out = gh_cache(&server, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rejected the token (401)") && stderr.contains("Bad credentials"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);

    let server = MockServer::start().await;
    let out = gh_cache(&server, &["list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("check the repository name"));

    // Usage errors: exit 2, before any request.
    let server = MockServer::start().await;
    for (args, env_remove, what) in [
        (&["list"][..], Some("GITHUB_TOKEN"), "no token"),
        (&["list"][..], Some("GITHUB_REPOSITORY"), "no repository"),
        (&["list", "--repo", "just-a-name"][..], None, "OWNER/NAME"),
        (&["prune"][..], None, "nothing to do"),
        (
            &["prune", "--max-total", "10%"][..],
            None,
            "not a percentage",
        ),
        (&["prune", "--older-than", "soon"][..], None, "--older-than"),
    ] {
        let mut cmd = Command::new(common::bin());
        cmd.arg("gh-cache")
            .args(args)
            .env("GITHUB_API_URL", server.uri())
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GITHUB_TOKEN", "t")
            .env_remove("GH_TOKEN");
        if let Some(var) = env_remove {
            cmd.env_remove(var);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(what),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_refs_and_messages_from_the_server_stay_text() {
    let server = MockServer::start().await;
    let evil_key =
        "setup-go-x`](http://evil.example)![i](http://e.x/i.png)<img src=x>|\n::error::key";
    let evil_ref = "refs/heads/x\r::add-mask::secret ##[error]ref";
    let list = json!({"total_count": 2, "actions_caches": [
        cache(1, evil_ref, evil_key, 1000, 1),
        cache(2, evil_ref, &format!("{evil_key}-older"), 1000, 2),
    ]});
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/repos/o/r/actions/caches/\d+$"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "no\n::error::from-the-server ##[error]x"})),
        )
        .mount(&server)
        .await;
    let is_command = |l: &str| l.trim_start().starts_with("::") || l.contains("##[");
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary");
    for format in ["text", "markdown", "json"] {
        for args in [
            &["list", "--format", format][..],
            &["prune", "--keep-per-ref", "1", "--format", format],
        ] {
            std::fs::write(&summary, "").unwrap();
            let mut cmd = Command::new(common::bin());
            let out = common::without_go_or_github_env(&mut cmd)
                .arg("gh-cache")
                .args(args)
                .env("GITHUB_API_URL", server.uri())
                .env("GITHUB_REPOSITORY", "o/r")
                .env("GITHUB_TOKEN", "test-token")
                .env("GITHUB_STEP_SUMMARY", &summary)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            for l in stdout.split(['\n', '\r']).chain(stderr.split(['\n', '\r'])) {
                assert!(!is_command(l), "{args:?}: {l:?} in\n{stdout}\n{stderr}");
            }
            if args[0] == "prune" {
                // The server's error: one line.
                assert_eq!(out.status.code(), Some(1), "{stderr}");
                assert_eq!(stderr.trim_end().split(['\n', '\r']).count(), 1, "{stderr}");
            }
            if format == "json" {
                let r = common::json(&out);
                if args[0] == "list" {
                    assert_eq!(r["caches"][0]["key"], evil_key);
                    assert_eq!(r["caches"][0]["ref"], evil_ref);
                } else {
                    assert_eq!(r["deletions"][0]["key"], format!("{evil_key}-older"));
                }
            }
            // The job summary: the key and ref are text, no link, image or HTML.
            for md in [
                std::fs::read_to_string(&summary).unwrap(),
                stdout.to_string(),
            ] {
                if !md.starts_with("### ") {
                    continue;
                }
                for bad in ["](", "![", "<img", "http:"] {
                    assert!(!md.contains(bad), "{bad:?} in\n{md}");
                }
                for l in md.lines() {
                    assert_eq!(l.matches('`').count() % 2, 0, "{l}");
                }
            }
        }
    }
}

/// Sizes are the server's word: sizes whose sum a u64 cannot hold neither panic a sum nor stop
/// `--max-total` early.
#[tokio::test(flavor = "multi_thread")]
async fn sizes_whose_sum_overflows_are_summed_exactly() {
    let server = MockServer::start().await;
    let huge = u64::MAX / 2 + 1;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/caches"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 3,
            "actions_caches": [
                cache(1, "refs/heads/main", "setup-go-a", huge, 1),
                cache(2, "refs/heads/main", "setup-go-b", huge, 2),
                cache(3, "refs/heads/main", "setup-go-c", huge, 3),
            ]
        })))
        .mount(&server)
        .await;
    delete_succeeds(&server).await;
    let out = gh_cache(&server, &["list", "--format", "json"]);
    assert_success(&out);
    let out = gh_cache(
        &server,
        &[
            "prune",
            "--format",
            "json",
            "--key-prefix",
            "setup-go-",
            "--max-total",
            "1",
        ],
    );
    assert_success(&out);
    let mut deleted = deleted_ids(&server).await;
    deleted.sort();
    assert_eq!(
        deleted,
        [1, 2, 3],
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
