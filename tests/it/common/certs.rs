//! Test certificates made by the real `openssl`, for HTTPS and the TLS probes.

use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

/// A certificate authority and a server certificate it signed for `localhost` and 127.0.0.1,
/// made by the real `openssl` in a temp dir; and a second CA that signed nothing of it.
pub struct TestCerts {
    /// Holds the files until the certificates are dropped.
    _dir: TempDir,
    pub ca_path: PathBuf,
    pub other_ca_path: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl TestCerts {
    pub fn make() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("grace-certs-")
            .tempdir()
            .unwrap();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl runs: apt-get install -y openssl (.ci/test does this)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "other-ca"] {
            let (key_file, pem) = (format!("{ca}.key"), format!("{ca}.pem"));
            let mut args = vec!["req", "-x509"];
            args.extend(key);
            args.extend(["-keyout", &key_file, "-out", &pem, "-days", "2"]);
            let subject = format!("/CN=Grace test {ca}");
            args.extend(["-subj", subject.as_str()]);
            openssl(&args);
        }
        let mut args = vec!["req"];
        args.extend(key);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&args);
        std::fs::write(
            dir.path().join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        Self {
            ca_path: dir.path().join("ca.pem"),
            other_ca_path: dir.path().join("other-ca.pem"),
            cert_pem: read("server.crt"),
            key_pem: read("server.key"),
            cert_path: dir.path().join("server.crt"),
            key_path: dir.path().join("server.key"),
            _dir: dir,
        }
    }
}
