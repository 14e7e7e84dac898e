//! What the machine gives a test: a free port on 127.0.0.1, whether it runs as root.

use std::net::TcpListener;
use std::process::Command;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port on 127.0.0.1")
}

pub fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("`id -u` runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}
