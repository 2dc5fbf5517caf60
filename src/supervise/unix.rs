//! Unix: the command runs in a process group of its own, so that stopping it reaches its
//! children and grandchildren too; SIGINT and SIGTERM sent to the guard are forwarded to the
//! group by a thread that waits for them.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};

use rustix::process::{Pid, Signal};

/// A running command's process group.
pub struct Supervised {
    group: Pid,
}

/// Starts `cmd` as the leader of a new process group, and forwards SIGINT and SIGTERM sent to
/// the guard from now on to that group (instead of the guard dying of them).
pub fn spawn(cmd: &mut Command) -> io::Result<(Child, Supervised)> {
    cmd.process_group(0);
    let child = cmd.spawn()?;
    let group = Pid::from_raw(child.id() as i32)
        .ok_or_else(|| io::Error::other("the command has no process id"))?;
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    std::thread::Builder::new()
        .name("go-disk-guard-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let signal = if signal == signal_hook::consts::SIGINT {
                    Signal::INT
                } else {
                    Signal::TERM
                };
                let _ = rustix::process::kill_process_group(group, signal);
            }
        })?;
    Ok((child, Supervised { group }))
}

impl Supervised {
    /// Asks the whole group to stop (SIGTERM).
    pub fn terminate(&self) {
        let _ = rustix::process::kill_process_group(self.group, Signal::TERM);
    }

    /// Stops the whole group now (SIGKILL), grandchildren included.
    pub fn kill(&self) {
        let _ = rustix::process::kill_process_group(self.group, Signal::KILL);
    }
}

/// The exit code to end with for a finished command: its own, or 128 + the signal that ended
/// it, as shells report it.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.wrapping_add(signal as u8),
        (None, None) => 1,
    }
}
