//! Windows: the command runs in a job object, so that stopping it reaches every process it
//! started; there are no signals to forward (Ctrl+C reaches the whole console by itself).

use std::io;
use std::os::windows::io::AsRawHandle;
use std::process::{Child, Command, ExitStatus};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};

/// The job holding a running command and its descendants.
pub struct Supervised {
    job: HANDLE,
}

// SAFETY: a job handle may be used from any thread.
unsafe impl Send for Supervised {}

/// Starts `cmd` inside a new job object that kills its processes when closed. Ctrl+C reaches
/// the whole console by itself, so there is nothing to forward.
pub fn spawn(cmd: &mut Command) -> io::Result<(Child, Supervised)> {
    // SAFETY: null attributes and name are allowed; the handle is checked.
    let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if job.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a zeroed JOBOBJECT_EXTENDED_LIMIT_INFORMATION is a valid "no limits" value.
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: `info` lives across the call and its size is passed.
    let ok = unsafe {
        SetInformationJobObject(
            job,
            JobObjectExtendedLimitInformation,
            (&info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if ok == 0 {
        let err = io::Error::last_os_error();
        // SAFETY: `job` is a handle this function owns.
        unsafe { CloseHandle(job) };
        return Err(err);
    }
    let child = cmd.spawn()?;
    // SAFETY: both handles are valid; a process started before the call may already have
    // started children outside the job, a documented limitation of this approach.
    unsafe { AssignProcessToJobObject(job, child.as_raw_handle() as HANDLE) };
    Ok((child, Supervised { job }))
}

impl Supervised {
    /// Windows has no polite stop for arbitrary processes: the job is terminated.
    pub fn terminate(&self) {
        self.kill();
    }

    pub fn kill(&self) {
        // SAFETY: `job` is a valid job handle owned by `self`.
        unsafe { TerminateJobObject(self.job, 1) };
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // SAFETY: `job` is owned by `self` and closed once.
        unsafe { CloseHandle(self.job) };
    }
}

pub fn exit_code(status: ExitStatus) -> u8 {
    status.code().map_or(1, |c| c as u8)
}
