"""Each language in its own terms: its name, where the grader's probes apply, and advice.

Everything here is data keyed by the spec's language name (``c``, ``cpp``,
``java``, ``go``, ``rust``, ``python``; a spec may add others, which then get
their key as a name and no extra advice):

* :data:`NAMES`: how the language is called in feedback ("not applicable to Go");
* :func:`not_applicable`: why a test cannot act on a language, from the test's
  ``shims:`` and the language's ``libc:`` flag (see docs/specs.md);
* :data:`ADVICE`: for a cause the probes name (the codes of
  :mod:`grader.diagnose`, :mod:`grader.steps`, :mod:`grader.program` and the
  specs' ``cause:``), what to do about it in that language, shown under the
  cause's own text (which says what was seen, in socket terms).
"""

from __future__ import annotations

from typing import Iterable

from .spec import Language, Spec, TestSpec

NAMES = {"c": "C", "cpp": "C++", "java": "Java", "go": "Go", "rust": "Rust", "python": "Python"}

# shim -> why it cannot act on a program whose system calls bypass libc.
SHIM_NEEDS_LIBC = {
    "partial-writes": ("this test makes send() and write() accept fewer bytes than asked by "
                       "wrapping libc's functions (LD_PRELOAD), and {lang} programs make their "
                       "system calls without libc; {lang}'s own Write loops over short writes"),
}


def name_of(lang: Language | None) -> str:
    if lang is None:
        return "this language"
    return NAMES.get(lang.name, lang.name)


def not_applicable(test: TestSpec, lang: Language | None) -> str | None:
    """Why ``test`` cannot act on a program in ``lang`` (None: it applies)."""
    if lang is None or lang.libc:
        return None
    for shim in test.shims:
        if shim in SHIM_NEEDS_LIBC:
            who = name_of(lang)
            return f"not applicable to {who}: " + SHIM_NEEDS_LIBC[shim].format(lang=who)
    return None


def applicable_total(spec: Spec, lang: Language | None) -> float:
    """The assignment's total for a submission in ``lang``: tests that cannot act on it left out."""
    return sum(t.points for t in spec.tests if not_applicable(t, lang) is None)


_READ_LOOP = {
    "java": "InputStream.read() returns what has arrived so far, not a message: loop until it "
            "returns -1 (readNBytes() or DataInputStream.readFully() for a known length)",
    "go": "one conn.Read is not one message: loop until it returns io.EOF (or io.ReadFull for a "
          "known length, io.Copy to echo)",
    "rust": "one read() is not one message: loop until it returns Ok(0) (read_exact() for a known "
            "length, io::copy to echo)",
    "cpp": "one recv() is not one message: loop until it returns 0",
    "python": "one recv() is not one message: loop until it returns b''",
}
_WRITE_ALL = {
    "java": "OutputStream.write(buf, 0, n) writes all n bytes; with a PrintWriter or "
            "BufferedOutputStream, call flush()",
    "go": "conn.Write writes everything or returns an error: check the error",
    "rust": "write() may write fewer bytes than given and returns how many: use write_all()",
    "cpp": "send() may write fewer bytes than asked: loop until all are sent",
    "python": "sock.send() may send fewer bytes than given: use sock.sendall()",
}
_BYTES_NOT_TEXT = {
    "java": "BufferedReader.readLine() and new String(...) decode text (and drop the line end): "
            "echo the byte[] from InputStream.read() with OutputStream.write(buf, 0, n)",
    "go": "echo the bytes Read gave (buf[:n]); a bufio.Scanner or string conversion changes them",
    "rust": "echo &buf[..n]; String::from_utf8_lossy or read_line change bytes",
    "cpp": "send n bytes from the buffer, not strlen(buf) or a std::string built from a char*",
    "python": "send the bytes you received; decode()/encode() changes non-UTF-8 bytes",
}
_CLOSE_AT_EOF = {
    "java": "when read() returns -1 the client is done: close() the Socket (try-with-resources)",
    "go": "when Read returns io.EOF, Close the connection (defer conn.Close() in the goroutine); "
          "conn.SetDeadline bounds a Read that would wait for ever",
    "rust": "when read() returns Ok(0) the client is done: return from the handler so the "
            "TcpStream is dropped (closed)",
    "cpp": "when recv() returns 0, close() the socket",
    "python": "when recv() returns b'', close the socket (a with block does)",
}
_CONCURRENT = {
    "java": "serve each accepted Socket in its own Thread (or an ExecutorService task)",
    "go": "serve each connection in its own goroutine: go handle(conn)",
    "rust": "serve each stream in its own thread: thread::spawn(move || handle(stream))",
    "cpp": "serve each client in its own std::thread (detach it), or poll() them all",
    "python": "serve each client in its own thread (threading, socketserver.ThreadingTCPServer) or "
              "use selectors",
}

ADVICE: dict[str, dict[str, str]] = {
    "no-reuseaddr": {
        "java": "Java's ServerSocket sets SO_REUSEADDR on Linux unless told not to: call "
                "setReuseAddress(true) before bind() (never false), and let no old process hold the port",
        "go": "net.Listen sets SO_REUSEADDR itself: is an old process or a child still holding the port?",
        "rust": "std's TcpListener::bind sets SO_REUSEADDR itself: is an old process still holding the port?",
        "cpp": "setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) before bind()",
        "python": "sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1) before bind() "
                  "(socketserver: allow_reuse_address = True)",
    },
    "first-recv-only": _READ_LOOP,
    "stale-buffer": {
        "java": "write only the bytes read: out.write(buf, 0, n), not out.write(buf)",
        "go": "write only the bytes read: conn.Write(buf[:n])",
        "rust": "write only the bytes read: write_all(&buf[..n])",
        "cpp": "send only the n bytes recv() returned",
    },
    "lost-bytes": _WRITE_ALL,
    "ignores-partial-send": _WRITE_ALL,
    "nul-truncation": _BYTES_NOT_TEXT,
    "text-decoding": _BYTES_NOT_TEXT,
    "utf-8": _BYTES_NOT_TEXT,
    "no-close": _CLOSE_AT_EOF,
    "closed-early": {
        **_READ_LOOP,
        "java": "bytes still in a PrintWriter or BufferedOutputStream are lost when the socket is "
                "closed first: flush() (or close the writer) before closing the socket; and one "
                "read() is not one message: loop until it returns -1",
    },
    "short": {
        "java": "output written through a PrintWriter or BufferedOutputStream stays in its buffer until "
                "flush() (or new PrintWriter(out, true), which flushes on println); "
                "BufferedReader.readLine() waits for a whole line before the echo can start",
    },
    "mismatch": {
        "java": "BufferedReader, Scanner and PrintWriter read and write text: they change bytes that "
                "are not text; echo with InputStream.read(buf) and OutputStream.write(buf, 0, n)",
    },
    "fd-leak": {
        "java": "close every accepted Socket when its client is done (try-with-resources, or "
                "close() in a finally block)",
        "go": "defer conn.Close() at the top of each connection's goroutine; a goroutine that "
              "never returns keeps its connection open",
        "rust": "let each TcpStream be dropped when its client is done (do not keep it or a "
                "try_clone() of it in a collection)",
        "cpp": "close() every accepted socket (an RAII wrapper closes it in the destructor)",
        "python": "close each accepted socket (with conn: ...)",
    },
    "iterative": _CONCURRENT,
    "select-closed-fd": {
        "cpp": "FD_CLR(fd, &master) as you close(fd) (or keep a std::set of live fds to build the set from)",
        "python": "remove a socket from the lists given to select.select() when you close it",
    },
    "stops-accepting": {
        "java": "accept() in a loop for ever, handing each Socket to a Thread",
        "go": "call ln.Accept() in a for loop, handling each conn in a goroutine",
        "rust": "loop over listener.incoming(), not just the first stream",
        "cpp": "accept() in a loop",
        "python": "accept() in a loop (socketserver: serve_forever())",
    },
    "sigpipe": {
        "cpp": "std::signal(SIGPIPE, SIG_IGN) at start, or send(..., MSG_NOSIGNAL)",
        "python": "Python ignores SIGPIPE: catch BrokenPipeError/ConnectionResetError per client",
    },
    "hangs": {
        "java": "when read() returns -1 or connecting throws, close the socket and exit",
        "go": "return when Read gives io.EOF (or any error); conn.SetDeadline bounds a wait",
        "rust": "stop reading at Ok(0) or an Err, then return from main",
    },
    "no-shutdown": {
        "java": "after sending everything, socket.shutdownOutput() (then keep reading until -1)",
        "go": "after sending everything, conn.(*net.TCPConn).CloseWrite() (then keep reading until io.EOF)",
        "rust": "after sending everything, stream.shutdown(Shutdown::Write) (then read until Ok(0))",
        "cpp": "after sending everything, shutdown(fd, SHUT_WR)",
        "python": "after sending everything, sock.shutdown(socket.SHUT_WR)",
    },
    "exit-zero-on-error": {
        "java": "print the error to System.err and System.exit(1)",
        "go": "print the error to os.Stderr and os.Exit(1) (log.Fatal does both)",
        "rust": "eprintln! the error and std::process::exit(1)",
        "cpp": "print the error (perror) and return 1 from main",
        "python": "sys.exit(f\"error: {e}\") exits 1 with the message on stderr",
    },
    "ignores-signal": {
        "java": "do not block shutdown: the JVM exits on SIGTERM and SIGINT unless a shutdown hook waits",
        "go": "after signal.Notify, exit when the signal comes (os.Exit), or do not catch it",
        "rust": "do not install a handler that keeps running; the default action ends the process",
        "python": "do not catch KeyboardInterrupt/SystemExit and carry on",
    },
    "not-any-address": {
        "java": "bind to new InetSocketAddress(port) (every address), not the loopback address",
        "go": "net.Listen(\"tcp\", \":\"+port), not \"127.0.0.1:\"+port",
        "rust": "TcpListener::bind((\"0.0.0.0\", port)), not 127.0.0.1",
        "python": "bind((\"\", port)), not (\"127.0.0.1\", port)",
    },
    "udp-truncated": {
        "java": "receive into a 65535-byte DatagramPacket buffer",
        "go": "ReadFrom into make([]byte, 65535)",
        "rust": "recv_from into vec![0u8; 65535]",
        "cpp": "recvfrom into a 65535-byte buffer",
        "python": "sock.recvfrom(65535)",
    },
    "udp-wrong-client": {
        "java": "reply to packet.getSocketAddress() of the packet just received",
        "go": "WriteTo(buf[:n], addr) with the addr that ReadFrom returned",
        "rust": "send_to(&buf[..n], src) with the src that recv_from returned",
        "cpp": "sendto the address recvfrom filled in, for this datagram",
        "python": "sendto(data, addr) with the addr recvfrom returned",
    },
}


def advice(codes: Iterable[str], lang: Language | None) -> list[str]:
    """'in Java: ...' lines for the causes named, in the order given, once each."""
    if lang is None:
        return []
    who = name_of(lang)
    seen: list[str] = []
    for code in codes:
        text = ADVICE.get(code, {}).get(lang.name)
        if text and text not in seen:
            seen.append(text)
    return [f"in {who}: {text}" for text in seen]


# ------------------------------------------------------------------ causes said in the language's terms
#
# The causes' own texts (grader.diagnose, grader.steps, grader.evidence) say what was seen and,
# often, the C fix (perror(), htons(), SHUT_WR, strlen()).  For another language, SAID gives the
# whole sentence in that language's terms instead; ADVICE (above) adds a line under it.  Evidence
# causes (grader.evidence) get their advice here too.

SAID: dict[str, dict[str, str]] = {
    "silent-error": {
        "python": "print what went wrong on stderr before exiting: sys.exit(f\"error: {e}\") or "
                  "print(e, file=sys.stderr)",
        "java": "print what went wrong on System.err before exiting",
        "go": "print what went wrong on os.Stderr before exiting (log.Fatal does)",
        "rust": "print what went wrong with eprintln! before exiting",
    },
    "error-on-stdout": {
        "python": "the error message went to standard output (print()), not standard error: "
                  "print(..., file=sys.stderr), or sys.exit(message)",
        "java": "the error message went to System.out, not System.err",
        "go": "the error message went to standard output (fmt.Println), not os.Stderr",
        "rust": "the error message went to standard output (println!), not stderr (eprintln!)",
    },
    "no-shutdown": {
        "python": "the client did not shut down its sending side after sending all its input: call "
                  "sock.shutdown(socket.SHUT_WR) so the server sees the end",
    },
    "zero-send": {
        "python": "sending b'' (0 bytes) does not end the stream (the server sees nothing): call "
                  "sock.shutdown(socket.SHUT_WR)",
    },
    "close-not-shutdown": {
        "python": "the client closed the socket right after sending, before reading the reply: "
                  "sock.shutdown(socket.SHUT_WR) ends the sending side only; then keep calling "
                  "recv() until it returns b''",
    },
    "sigpipe": {
        "python": "was killed by SIGPIPE: it wrote to a connection the client had already closed "
                  "(Python ignores SIGPIPE unless the program restored it: catch BrokenPipeError)",
    },
    "nul-truncation": {
        "python": "bytes after the first NUL byte were lost: send back the bytes received, as bytes",
    },
    "unchecked-bind": {
        "python": "bind() failed and the exception was caught and ignored, so the server went on "
                  "without its port: let the error end the program (sys.exit(f\"bind: {e}\"))",
    },
    "port-from-stdin": {
        "python": "the program read its standard input (input()) before bind(): the port is on "
                  "the command line (int(sys.argv[1])), not typed in at a prompt",
    },
    "ignores-partial-send": {
        "python": "sock.send() sent fewer bytes than it was given and the rest was dropped: "
                  "use sock.sendall(), which sends everything",
    },
    "lockstep": {
        "python": "the client waits for the reply to each piece of input before reading more: "
                  "send all the input with sendall(), then sock.shutdown(socket.SHUT_WR), then "
                  "read until recv() returns b'' (or read replies in a second thread)",
    },
}

_EVIDENCE_ADVICE: dict[str, dict[str, str]] = {
    "udp-sizeof-reply": {
        "cpp": "sendto(fd, buf, n, ...) with the n recvfrom returned",
        "java": "send new DatagramPacket(buf, packet.getLength(), ...), not buf.length",
        "go": "WriteTo(buf[:n], addr) with the n ReadFrom returned",
        "rust": "send_to(&buf[..n], src) with the n recv_from returned",
    },
    "line-echo": {
        "python": "echo conn.recv()'s bytes as they come; file.readline() waits for a newline",
        "java": "BufferedReader.readLine() waits for a newline and drops it: echo with "
                "InputStream.read(buf) and OutputStream.write(buf, 0, n)",
        "go": "bufio.Scanner/ReadString wait for a newline: io.Copy(conn, conn) echoes as bytes come",
    },
    "decode-binary": {
        "python": "data = conn.recv(4096); conn.sendall(data): no .decode()",
    },
    "text-mode-stdio": {
        "python": "data = sys.stdin.buffer.read(); sys.stdout.buffer.write(reply)",
    },
    "thread-create-fails": {
        "cpp": "std::thread(...).detach(), or join the threads",
        "python": "threading.Thread(target=..., daemon=True).start()",
    },
    "fork-parent-keeps-fd": {},
}
for _code, _by_lang in _EVIDENCE_ADVICE.items():
    ADVICE.setdefault(_code, {}).update(_by_lang)
ADVICE.setdefault("decode-binary", {}).update(_BYTES_NOT_TEXT)
ADVICE["decode-binary"]["python"] = _EVIDENCE_ADVICE["decode-binary"]["python"]


def restate(code: str, text: str, lang: Language | None) -> str:
    """A cause's sentence in the submission's language's terms (C's sentence otherwise)."""
    if lang is None:
        return text
    return SAID.get(code, {}).get(lang.name, text)


def advice_for(code: str, lang: Language | None) -> str:
    """The advice line for one cause in the submission's language ('' when none)."""
    if lang is None:
        return ""
    return ADVICE.get(code, {}).get(lang.name, "")


# Spec hints written in C's terms, by topic (the hint's cause code): the same hint in another
# language's terms (hints on other topics read the same in every language).
HINT_SAID: dict[str, dict[str, str]] = {
    "ignores-partial-send": {
        "python": "sock.send() may send fewer bytes than it was given: use sock.sendall(), which "
                  "sends them all",
        "rust": "write() may write fewer bytes than given: use write_all()",
    },
}


def restate_hint(text: str, topic: str | None, lang: Language | None) -> str:
    """A spec hint (written in C's terms) in the submission's language's terms, where it needs it."""
    if lang is None or topic is None:
        return text
    return HINT_SAID.get(topic, {}).get(lang.name, text)
