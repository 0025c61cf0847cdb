// Bug: one read() taken as the whole message (instead of a loop until Ok(0)).
use std::env;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process;
use std::thread;

fn main() {
    let port: u16 = env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(5001);
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("bind: {}", e);
        process::exit(1)
    });
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            if let Ok(n) = stream.read(&mut buf) {
                let _ = stream.write_all(&buf[..n]);
            }
        });
    }
}
