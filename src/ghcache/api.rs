//! The few GitHub REST API calls `gh-cache` makes, through octocrab, with GitHub's rules for
//! pagination (the `Link` header), rate limits (`retry-after`, `x-ratelimit-reset`) and
//! retries of server errors.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use http::header::HeaderMap;
use octocrab::Octocrab;
use serde::Deserialize;

use super::policy::{Cache, RefState, pull_number};

/// How long a rate limit may make us wait before giving up.
pub const MAX_WAIT: Duration = Duration::from_secs(120);
/// How often a request is tried in all (server errors, rate limits).
const ATTEMPTS: u32 = 4;

/// Why a call failed, for the caller to report (and exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("GitHub rejected the token (401): {0}")]
    Unauthorized(String),
    #[error(
        "GitHub refused (403): {0}; the token needs the `actions: write` permission (in a \
         workflow: `permissions: actions: write`)"
    )]
    Forbidden(String),
    #[error("not found (404): {0}: check the repository name and that the token can see it")]
    NotFound(String),
    #[error("rate limited by GitHub for {wait:?} more, longer than the {max:?} this waits")]
    RateLimited { wait: Duration, max: Duration },
    #[error("GitHub answered {status} {attempts} times: {message}")]
    Server {
        status: u16,
        attempts: u32,
        message: String,
    },
    #[error("GitHub answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("talking to GitHub: {0}")]
    Transport(String),
    #[error("GitHub's answer did not parse: {0}")]
    Decode(String),
}

/// A client for one repository.
pub struct Client {
    octocrab: Octocrab,
    base: String,
    repo: String,
    /// The first wait after a server error; doubled each time.
    backoff: Duration,
}

#[derive(Deserialize)]
struct CachePage {
    actions_caches: Vec<RawCache>,
}

#[derive(Deserialize)]
struct RawCache {
    id: u64,
    #[serde(rename = "ref")]
    git_ref: String,
    key: String,
    size_in_bytes: u64,
    last_accessed_at: Option<String>,
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct PullRequest {
    state: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

impl Client {
    /// `base` is the API's root (`GITHUB_API_URL`), `repo` is `OWNER/NAME`.
    pub fn new(base: &str, repo: &str, token: &str) -> Result<Client, ApiError> {
        let base = base.trim_end_matches('/').to_string();
        let octocrab = Octocrab::builder()
            .base_uri(base.as_str())
            .map_err(|e| ApiError::Transport(format!("API URL {base}: {e}")))?
            .personal_token(token.to_string())
            .set_connect_timeout(Some(Duration::from_secs(20)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        Ok(Client {
            octocrab,
            base,
            repo: repo.to_string(),
            backoff: Duration::from_secs(1),
        })
    }

    /// Every cache of the repository, all pages.
    pub async fn list_caches(&self) -> Result<Vec<Cache>, ApiError> {
        let mut url = Some(format!(
            "{}/repos/{}/actions/caches?per_page=100",
            self.base, self.repo
        ));
        let mut caches = Vec::new();
        while let Some(u) = url {
            let (headers, body) = self.call(Method::Get, &u).await?;
            let page: CachePage =
                serde_json::from_str(&body).map_err(|e| ApiError::Decode(e.to_string()))?;
            for c in page.actions_caches {
                caches.push(Cache {
                    id: c.id,
                    git_ref: c.git_ref,
                    key: c.key,
                    size_in_bytes: c.size_in_bytes,
                    last_accessed_at: c.last_accessed_at.as_deref().and_then(parse_time),
                    created_at: c.created_at.as_deref().and_then(parse_time),
                });
            }
            url = next_link(&headers);
        }
        Ok(caches)
    }

    /// What is known of each ref: branches and tags are looked up, pull requests asked for
    /// their state; other refs count as live.
    pub async fn ref_states(
        &self,
        refs: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeMap<String, RefState>, ApiError> {
        let mut out = BTreeMap::new();
        for r in refs {
            if out.contains_key(r) {
                continue;
            }
            let state = if let Some(n) = pull_number(r) {
                let url = format!("{}/repos/{}/pulls/{n}", self.base, self.repo);
                match self.call(Method::Get, &url).await {
                    Ok((_, body)) => {
                        let pr: PullRequest = serde_json::from_str(&body)
                            .map_err(|e| ApiError::Decode(e.to_string()))?;
                        if pr.state == "open" {
                            RefState::Live
                        } else {
                            RefState::ClosedPullRequest
                        }
                    }
                    Err(ApiError::NotFound(_)) => RefState::Gone,
                    Err(e) => return Err(e),
                }
            } else if let Some(short) = r
                .strip_prefix("refs/")
                .filter(|s| s.starts_with("heads/") || s.starts_with("tags/"))
            {
                let url = format!(
                    "{}/repos/{}/git/ref/{}",
                    self.base,
                    self.repo,
                    crate::units::percent_encode(short)
                );
                match self.call(Method::Get, &url).await {
                    Ok(_) => RefState::Live,
                    Err(ApiError::NotFound(_)) => RefState::Gone,
                    Err(e) => return Err(e),
                }
            } else {
                RefState::Live
            };
            out.insert(r.to_string(), state);
        }
        Ok(out)
    }

    /// Deletes a cache by id. `Ok(false)`: it was already gone.
    pub async fn delete(&self, id: u64) -> Result<bool, ApiError> {
        let url = format!("{}/repos/{}/actions/caches/{id}", self.base, self.repo);
        match self.call(Method::Delete, &url).await {
            Ok(_) => Ok(true),
            Err(ApiError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One call, with rate limits waited out (up to [`MAX_WAIT`]) and server errors retried.
    async fn call(&self, method: Method, url: &str) -> Result<(HeaderMap, String), ApiError> {
        let mut backoff = self.backoff;
        let mut last_server_error = None;
        for _ in 0..ATTEMPTS {
            let request = self
                .octocrab
                .build_request(
                    http::Request::builder()
                        .method(method.http())
                        .uri(url)
                        .header("accept", "application/vnd.github+json")
                        .header("x-github-api-version", "2022-11-28"),
                    None::<&()>,
                )
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            let response = self
                .octocrab
                .execute(request)
                .await
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self
                .octocrab
                .body_to_string(response)
                .await
                .map_err(|e| ApiError::Transport(e.to_string()))?;
            if status.is_success() {
                return Ok((headers, body));
            }
            let message = format!("{} {url}: {}", method.name(), error_message(&body));
            match status {
                StatusCode::UNAUTHORIZED => return Err(ApiError::Unauthorized(message)),
                StatusCode::NOT_FOUND => return Err(ApiError::NotFound(message)),
                StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS => {
                    match rate_limit_wait(&headers, SystemTime::now()) {
                        Some(wait) if wait > MAX_WAIT => {
                            return Err(ApiError::RateLimited {
                                wait,
                                max: MAX_WAIT,
                            });
                        }
                        Some(wait) => tokio::time::sleep(wait).await,
                        None if status == StatusCode::FORBIDDEN => {
                            return Err(ApiError::Forbidden(message));
                        }
                        None => tokio::time::sleep(backoff).await,
                    }
                }
                s if s.is_server_error() => {
                    last_server_error = Some((s.as_u16(), message));
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                s => {
                    return Err(ApiError::Status {
                        status: s.as_u16(),
                        message,
                    });
                }
            }
        }
        let (status, message) = last_server_error.unwrap_or((429, format!("{url}: rate limited")));
        Err(ApiError::Server {
            status,
            attempts: ATTEMPTS,
            message,
        })
    }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Delete,
}

impl Method {
    fn http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Delete => http::Method::DELETE,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Delete => "DELETE",
        }
    }
}

/// GitHub's `message`, or the body itself (shortened).
fn error_message(body: &str) -> String {
    serde_json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.message)
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// How long GitHub asks us to wait: `retry-after` (secondary limits), or until
/// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0 (the primary limit).
pub fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    if let Some(seconds) = get("retry-after") {
        return Some(Duration::from_secs(seconds));
    }
    if get("x-ratelimit-remaining") == Some(0) {
        let reset = Duration::from_secs(get("x-ratelimit-reset")?);
        // A reset past what the clock can hold is as long a wait as there is.
        return Some(
            SystemTime::UNIX_EPOCH
                .checked_add(reset)
                .map_or(Duration::MAX, |reset| {
                    reset
                        .duration_since(now)
                        .unwrap_or_default()
                        .saturating_add(Duration::from_secs(1))
                }),
        );
    }
    None
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == r#"rel="next""#)
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;

    #[test]
    fn links_and_rate_limits() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                r#"<https://api.github.com/repositories/1/actions/caches?page=2>; rel="next", <https://api.github.com/repositories/1/actions/caches?page=5>; rel="last""#,
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/actions/caches?page=2")
        );
        h.insert(
            "link",
            HeaderValue::from_static(r#"<https://x/?page=1>; rel="prev""#),
        );
        assert_eq!(next_link(&h), None);

        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1030"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(31)));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("12"));
        assert_eq!(rate_limit_wait(&h, now), None);
    }

    /// The server says when its limit resets: a time past what the clock can hold is a wait
    /// longer than any allowed, not a panic.
    #[test]
    fn a_reset_past_the_end_of_time_is_a_wait_too_long() {
        let now = SystemTime::now();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("18446744073709551615"),
        );
        assert!(rate_limit_wait(&h, now).is_some_and(|w| w > MAX_WAIT));
    }

    #[test]
    fn times_and_refs() {
        let t = parse_time("2026-11-20T10:00:00.123Z").unwrap();
        assert_eq!(
            humantime::format_rfc3339_seconds(t).to_string(),
            "2026-11-20T10:00:00Z"
        );
        assert!(parse_time("yesterday").is_none());
        assert_eq!(
            crate::units::percent_encode("heads/feat/ü x"),
            "heads/feat/%C3%BC%20x"
        );
    }
}
