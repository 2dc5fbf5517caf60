//! A real per-user quota: on a tmpfs mounted with `usrquota_block_hardlimit`, `status` counts
//! what the quota leaves, not the volume's free space, and says the quota binds.
//!
//! Needs root and a kernel with tmpfs quotas (CONFIG_TMPFS_QUOTA, Linux 6.6+), which the
//! development machine lacks, so it is ignored by default; the `quota` job of the CI workflow
//! runs it on GitHub's Ubuntu runners with `--include-ignored`.

use crate::common;

use crate::common::{Tmpfs, assert_success, guard, json};

#[test]
#[ignore = "needs root and a kernel with tmpfs quotas (run by the CI workflow's quota job)"]
fn a_user_quota_on_a_tmpfs_binds_the_available_space() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("quota");
    // Panics when the kernel cannot mount a tmpfs with quotas.
    let _volume = Tmpfs::mount_with_options(&dir, "size=64m,usrquota,usrquota_block_hardlimit=8m");
    // 2 MiB written by this user: 6 MiB of the quota left, on a volume with ~62 MiB free.
    common::fill(&dir.join("used"), 2 << 20);

    let out = guard(home.path())
        .env("GOCACHE", dir.join("cache"))
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert_success(&out);
    let report = json(&out);
    let volume = report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["paths"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["label"] == "GOCACHE")
        })
        .unwrap()
        .clone();
    assert_eq!(volume["limited_by"], "quota", "{volume}");
    let available = volume["available_bytes_before"].as_u64().unwrap();
    assert_eq!(Some(available), volume["quota_remaining_bytes"].as_u64());
    assert!(
        available <= 6 << 20 && available > 5 << 20,
        "{available} bytes available"
    );
}
