// TCP echo client in Rust (std only): a thread copies the server's bytes to stdout
// while main sends stdin, then shutdown(Write) (half-close) and waits for the server.
use std::env;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::process;
use std::thread;

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} HOST PORT", args[0]);
        process::exit(2);
    }
    let port: u16 = args[2].parse().unwrap_or_else(|_| {
        eprintln!("bad port: {}", args[2]);
        process::exit(2)
    });
    let mut stream = TcpStream::connect((args[1].as_str(), port)).unwrap_or_else(|e| {
        eprintln!("connect: {}", e);
        process::exit(1)
    });
    let mut incoming = stream.try_clone().expect("clone the socket");
    let reader = thread::spawn(move || io::copy(&mut incoming, &mut io::stdout().lock()));
    if let Err(e) = io::copy(&mut io::stdin().lock(), &mut stream) {
        eprintln!("send: {}", e);
        process::exit(1);
    }
    stream.shutdown(Shutdown::Write).expect("half-close");
    match reader.join() {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            eprintln!("receive: {}", e);
            process::exit(1);
        }
        Err(_) => process::exit(1),
    }
}
