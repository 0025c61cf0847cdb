// Bug: write() instead of write_all(): the count it returns is thrown away,
// so when the kernel takes fewer bytes than given, the rest is lost.
use std::env;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process;
use std::thread;

fn echo(mut stream: TcpStream) {
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn main() {
    let port: u16 = env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(5001);
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("bind: {}", e);
        process::exit(1)
    });
    for stream in listener.incoming().flatten() {
        thread::spawn(move || echo(stream));
    }
}
