//! Per-user block quotas: the space a user can still write may be less than the volume has.
//!
//! On Linux the kernel reports a user's quota with `quotactl_fd(fd, QCMD(Q_GETQUOTA,
//! USRQUOTA), uid, &if_dqblk)` (Linux 5.14+; it works for any filesystem with quotas, tmpfs
//! included, where the older `quotactl` needs a block device). The decoding of that answer and
//! the arithmetic are pure and tested everywhere; the call itself is in [`linux`]. On Windows
//! GetDiskFreeSpaceExW already answers the caller's share, and other systems are not asked.

/// `struct if_dqblk` from `<linux/quota.h>`: eight `__u64` and a `__u32`, padded to 72 bytes.
pub const DQBLK_SIZE: usize = 72;

/// Block limits in `if_dqblk` are in units of this many bytes (`QIF_DQBLKSIZE`).
const QIF_DQBLKSIZE: u64 = 1024;
/// `dqb_valid` flags: the block limits, and the current space, are filled in.
const QIF_BLIMITS: u32 = 1;
const QIF_SPACE: u32 = 2;

/// A user's block quota on one filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The limit that stops writes, in bytes: the soft limit when one is set (it becomes hard
    /// once its grace period ends, and a CI job should not lean on grace), else the hard one.
    pub limit: u64,
    /// Bytes the user has on the filesystem.
    pub used: u64,
}

impl Quota {
    /// Bytes the user may still write.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// Decodes an `if_dqblk` in native byte order. `None` when no block limit is set (a quota
/// entry with only inode limits, or none at all) or the kernel did not fill in the fields.
pub fn decode(raw: &[u8; DQBLK_SIZE]) -> Option<Quota> {
    let word = |i: usize| u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let valid = u32::from_ne_bytes(raw[64..68].try_into().expect("4 bytes"));
    if valid & (QIF_BLIMITS | QIF_SPACE) != QIF_BLIMITS | QIF_SPACE {
        return None;
    }
    let (hard, soft, used) = (word(0), word(1), word(2));
    let limit_blocks = match (soft, hard) {
        (0, 0) => return None,
        (0, hard) => hard,
        (soft, _) => soft,
    };
    Some(Quota {
        limit: limit_blocks.saturating_mul(QIF_DQBLKSIZE),
        used,
    })
}

/// What binds a path's available space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Binding {
    /// The volume's free space.
    #[default]
    Volume,
    /// The user's quota.
    Quota,
}

/// The space that counts: the smaller of the volume's available space and what the quota
/// leaves, and which of the two it is (the volume on a tie).
pub fn effective(volume_available: u64, quota: Option<Quota>) -> (u64, Binding) {
    match quota {
        Some(q) if q.remaining() < volume_available => (q.remaining(), Binding::Quota),
        _ => (volume_available, Binding::Volume),
    }
}

/// Why a quota could not be read, said once per run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// The kernel has no `quotactl_fd` (before Linux 5.14) or the filesystem no quota calls.
    Unsupported(String),
    /// Reading it was refused or failed otherwise.
    Failed(String),
}

#[cfg(target_os = "linux")]
pub mod linux {
    //! The `quotactl_fd` call.

    use std::io;
    use std::path::Path;

    use super::{DQBLK_SIZE, Quota, Unreadable, decode};

    const Q_GETQUOTA: u32 = 0x80_0007;
    const USRQUOTA: u32 = 0;

    /// `QCMD(Q_GETQUOTA, USRQUOTA)`.
    fn qcmd() -> u32 {
        (Q_GETQUOTA << 8) | (USRQUOTA & 0xff)
    }

    /// This user's block quota on the filesystem holding the existing directory `path`:
    /// `Ok(None)` when quotas are off there or set no block limit for the user.
    pub fn user_quota(path: &Path) -> Result<Option<Quota>, Unreadable> {
        let dir = std::fs::File::open(path)
            .map_err(|e| Unreadable::Failed(format!("opening {}: {e}", path.display())))?;
        let uid = rustix::process::getuid().as_raw();
        let mut raw = [0u8; DQBLK_SIZE];
        // SAFETY: quotactl_fd(2) with Q_GETQUOTA writes one `struct if_dqblk` (72 bytes) to
        // `raw`, which is that large; the fd is open for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_quotactl_fd,
                std::os::fd::AsRawFd::as_raw_fd(&dir),
                qcmd(),
                uid,
                raw.as_mut_ptr(),
            )
        };
        if rc == 0 {
            return Ok(decode(&raw));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Quotas are off on this filesystem, or the user has no quota entry.
            Some(libc::ESRCH) | Some(libc::ENOENT) => Ok(None),
            Some(libc::ENOSYS)
            | Some(libc::EOPNOTSUPP)
            | Some(libc::ENOTTY)
            | Some(libc::EINVAL) => Err(Unreadable::Unsupported(format!(
                "quotactl_fd on {}: {err}",
                path.display()
            ))),
            _ => Err(Unreadable::Failed(format!(
                "quotactl_fd on {}: {err}",
                path.display()
            ))),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_command_is_qcmd_getquota_usrquota() {
            // From <linux/quota.h>: QCMD(cmd, type) = (cmd << SUBCMDSHIFT) | (type & SUBCMDMASK).
            assert_eq!(qcmd(), 0x8000_0700);
        }

        #[test]
        fn a_filesystem_without_quotas_is_no_quota_or_says_why() {
            let dir = tempfile::tempdir().unwrap();
            match user_quota(dir.path()) {
                Ok(None) => {}
                Ok(Some(q)) => panic!("a quota on a scratch directory: {q:?}"),
                Err(Unreadable::Unsupported(why) | Unreadable::Failed(why)) => {
                    assert!(why.contains("quotactl_fd"), "{why}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `if_dqblk` as the kernel fills it.
    fn dqblk(hard: u64, soft: u64, used: u64, valid: u32) -> [u8; DQBLK_SIZE] {
        let mut raw = [0u8; DQBLK_SIZE];
        for (i, v) in [hard, soft, used, 0, 0, 7, 0, 0].into_iter().enumerate() {
            raw[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        raw[64..68].copy_from_slice(&valid.to_ne_bytes());
        raw
    }

    const ALL: u32 = 0x3f; // QIF_ALL

    #[test]
    fn limits_are_in_kib_and_the_soft_one_counts_first() {
        let q = decode(&dqblk(2048, 1024, 300_000, ALL)).unwrap();
        assert_eq!(
            q,
            Quota {
                limit: 1024 * 1024,
                used: 300_000
            }
        );
        assert_eq!(q.remaining(), 1024 * 1024 - 300_000);
        let hard_only = decode(&dqblk(2048, 0, 0, ALL)).unwrap();
        assert_eq!(hard_only.limit, 2 << 20);
    }

    #[test]
    fn no_block_limit_or_unfilled_fields_is_no_quota() {
        assert_eq!(decode(&dqblk(0, 0, 5000, ALL)), None);
        assert_eq!(decode(&dqblk(2048, 1024, 5000, 0)), None);
        assert_eq!(decode(&dqblk(2048, 1024, 5000, QIF_BLIMITS)), None);
    }

    #[test]
    fn over_quota_leaves_nothing() {
        let q = decode(&dqblk(1, 1, 10_000, ALL)).unwrap();
        assert_eq!(q.remaining(), 0);
        assert_eq!(effective(1 << 30, Some(q)), (0, Binding::Quota));
    }

    #[test]
    fn the_smaller_of_volume_and_quota_counts() {
        let q = Quota {
            limit: 4 << 30,
            used: 1 << 30,
        };
        assert_eq!(effective(10 << 30, Some(q)), (3 << 30, Binding::Quota));
        assert_eq!(effective(2 << 30, Some(q)), (2 << 30, Binding::Volume));
        assert_eq!(effective(3 << 30, Some(q)), (3 << 30, Binding::Volume));
        assert_eq!(effective(5, None), (5, Binding::Volume));
    }
}
