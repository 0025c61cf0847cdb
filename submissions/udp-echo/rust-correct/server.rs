// UDP echo server in Rust (std only): recv_from a 64 KiB buffer, send_to the sender.
use std::env;
use std::net::UdpSocket;
use std::process;

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 2 {
        eprintln!("usage: {} PORT", args[0]);
        process::exit(2);
    }
    let port: u16 = args[1].parse().unwrap_or_else(|_| {
        eprintln!("bad port: {}", args[1]);
        process::exit(2)
    });
    let socket = UdpSocket::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("bind: {}", e);
        process::exit(1)
    });
    let mut buf = vec![0u8; 65535];
    loop {
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    }
}
