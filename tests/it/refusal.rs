//! Nothing outside a verified Go build cache is ever deleted: not `/`, not a home directory,
//! not a directory without Go's README marker, not what a link in the cache points to, and
//! not another volume mounted inside the cache. Outside files are checksummed before and
//! after.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::common::*;

const OLD: Duration = Duration::from_secs(30 * 24 * 3600);

/// Prunes everything prunable in `cache`: no budget, no keep-recent window.
fn prune_all(home: &Path, cache: &Path) -> std::process::Output {
    guard(home)
        .args([
            "prune",
            "--max-size",
            "0",
            "--keep-recent",
            "0s",
            "--format",
            "json",
        ])
        .env("GOCACHE", cache)
        .env("GO_DISK_GUARD_GO", "/nonexistent/go")
        .output()
        .unwrap()
}

#[test]
fn the_filesystem_root_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = prune_all(home.path(), Path::new("/"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing to prune /: it is the root of a filesystem"));
    // check, which prunes only when needed, reports it and deletes nothing either.
    let out = guard(home.path())
        .args([
            "check",
            "--soft",
            "100%",
            "--hard",
            "0",
            "--keep-recent",
            "0s",
        ])
        .env("GOCACHE", "/")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("refusing to prune /"));
}

#[test]
fn a_home_directory_is_refused_even_with_the_marker() {
    let home = tempfile::tempdir().unwrap();
    synthetic_cache(home.path(), 20, 64, OLD);
    let before = checksums(home.path());
    let out = prune_all(home.path(), home.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("it is a home directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(checksums(home.path()), before);
}

#[test]
fn a_directory_without_the_marker_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    synthetic_cache(&cache, 20, 64, OLD);
    for readme in [None, Some("This directory holds something else.\n")] {
        match readme {
            None => fs::remove_file(cache.join("README")).unwrap(),
            Some(text) => fs::write(cache.join("README"), text).unwrap(),
        }
        let before = checksums(&cache);
        let out = prune_all(home.path(), &cache);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("marker"), "{}", stderr(&out));
        assert_eq!(checksums(&cache), before);
    }
}

#[test]
fn links_in_the_cache_are_never_followed() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let outside = home.path().join("outside");
    synthetic_cache(&cache, 50, 64, OLD);
    // Outside: files named like cache entries, old enough to be pruned if reached.
    synthetic_cache(&outside, 30, 64, OLD);
    let outside_sums = checksums(&outside);

    // A shard that is a link to a directory outside the cache.
    let victim_shard = fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().len() == 2 && e.path().is_dir())
        .unwrap();
    let shard_name = victim_shard.file_name();
    let in_cache = cache.join(&shard_name);
    if in_cache.exists() {
        fs::remove_dir_all(&in_cache).unwrap();
    }
    symlink(victim_shard.path(), &in_cache).unwrap();
    // An entry that is a link to a file outside, and a -d "directory" that is a link.
    let real_shard = cache_entries(&cache)
        .into_iter()
        .find(|e| e.parent().unwrap() != in_cache)
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let outside_file = cache_entries(&outside)[0].clone();
    symlink(&outside_file, real_shard.join(format!("{:064x}-a", 7))).unwrap();
    symlink(
        outside.join(&shard_name),
        real_shard.join(format!("{:064x}-d", 8)),
    )
    .unwrap();

    let out = prune_all(home.path(), &cache);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert!(report["prunes"][0]["removed_entries"].as_u64().unwrap() > 0);
    assert!(
        report["prunes"][0]["notes"]
            .to_string()
            .contains("is a symbolic link"),
        "{report}"
    );
    assert_eq!(
        checksums(&outside),
        outside_sums,
        "files outside the cache changed"
    );
    assert!(
        fs::symlink_metadata(&in_cache)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // The real entries are gone; only the links remain in the real shards.
    for e in cache_entries(&cache) {
        let is_link = fs::symlink_metadata(&e).unwrap().file_type().is_symlink();
        let via_link_shard = e.parent().unwrap() == in_cache;
        assert!(is_link || via_link_shard, "{} survived", e.display());
    }
    assert!(cache.join("README").exists() && cache.join("fuzz/example/corpus").exists());
}

#[test]
#[ignore = "needs root: mounts tmpfs volumes"]
fn another_volume_mounted_inside_the_cache_is_not_entered() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let entries = synthetic_cache(&cache, 60, 64, OLD);
    // Mount a volume over one shard and over one executable (-d directory) entry.
    let shard = entries[0].parent().unwrap().to_path_buf();
    let exe_entry = entries
        .iter()
        .find(|e| e.parent().unwrap() != shard && e.to_string_lossy().ends_with("-d"))
        .unwrap()
        .clone();
    fs::remove_file(&exe_entry).unwrap();
    fs::create_dir(&exe_entry).unwrap();
    let _shard_mount = Tmpfs::mount(&shard, "4m");
    let _exe_mount = Tmpfs::mount(&exe_entry, "4m");
    synthetic_cache(&shard, 10, 64, OLD);
    fs::write(exe_entry.join("tool"), "#!/bin/sh\n").unwrap();
    set_mtime(&exe_entry, SystemTime::now() - OLD);
    let mounted_sums: Vec<_> = [checksums(&shard), checksums(&exe_entry)].into();

    let out = prune_all(home.path(), &cache);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert!(report["prunes"][0]["removed_entries"].as_u64().unwrap() > 0);
    assert!(
        report["prunes"][0]["notes"]
            .to_string()
            .contains("another volume"),
        "{report}"
    );
    assert_eq!([checksums(&shard), checksums(&exe_entry)], *mounted_sums);
}
