"""Evidence from the program's own calls (grader.trace, grader.evidence, grader.verdict).

The rules are checked on strace text as strace 6.1 prints it (fast, no box); the
tracing itself on real programs in the box: a traced program keeps its pid (so a
verdict under trace is the program's), its trace is complete (the call it was
blocked in is there), and a replay never changes a verdict.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SPECS, SUBMISSIONS
from grader import evidence, trace
from grader.deadline import Deadline, poll_until
from grader import engine
from grader.engine import GradeOptions, _Run
from grader.build import detect_language
from grader import scope as scopes
from grader.spec import Conversation, load_spec

pytestmark = pytest.mark.timeout(120)


# The rules' protocol, unless a test says otherwise: an echo the client ends (tcp-echo).
ECHO = Conversation(echo=True, ends="client")


def codes(text: str, conversation: Conversation = ECHO) -> dict[str, evidence.Finding]:
    return {x.code: x for x in evidence.findings(trace.parse_text(text), conversation)}


def test_parse_joins_unfinished_calls_and_keeps_blocked_ones():
    calls = trace.parse_text(
        '7 accept(3, NULL, NULL <unfinished ...>\n'
        '8 read(4, "hi\\n", 1024) = 3\n'
        '7 <... accept resumed>) = 5\n'
        '7 wait4(-1,  <unfinished ...>\n'
        '7 +++ killed by SIGKILL +++\n')
    assert [(c.name, c.result) for c in calls] == [
        ("read", 3), ("accept", 5), ("wait4", None), ("+++ exit", None)]
    assert calls[3].args == "SIGKILL"
    assert "never returned" in calls[2].line


def test_string_args_decode_strace_escapes():
    assert evidence.string_arg('"AB\\0CD\\377\\n"') == (b"AB\0CD\xff\n", False)
    assert evidence.string_arg('"abc"...') == (b"abc", True)
    assert evidence.string_arg('"\\x41\\101\\t\\\\\\""') == (b"AA\t\\\"", False)
    # a line strace (or a killed tracee) cut in the middle of a string or an escape
    assert evidence.string_arg('"ab\\x4') == (b"ab", True)
    assert evidence.string_arg('"ab\\') == (b"ab\\", True)


def test_arguments_split_at_top_level_commas_only():
    assert evidence.split_args('3, "a, \\"b", 5, {sa_family=AF_INET, sin_port=htons(80)}, [16]') == \
        ['3', '"a, \\"b"', '5', '{sa_family=AF_INET, sin_port=htons(80)}', '[16]']
    assert evidence.split_args('4, "cut, here') == ['4', '"cut, here']
    assert evidence.split_args('') == []


def test_udp_reply_of_the_buffers_size():
    found = codes('5 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3\n'
                  '5 recvfrom(3, "hello\\n", 2048, 0, {sa_family=AF_INET}, [16]) = 6\n'
                  '5 sendto(3, "hello\\n\\0\\0\\0"..., 2048, 0, {sa_family=AF_INET}, 16) = 2048\n')
    x = found["udp-sizeof-reply"]
    assert "received 6 bytes" in x.text and "sent 2048" in x.text and len(x.excerpt()) == 2
    assert "extra" in x.rules_out


def test_udp_strlen_plus_one():
    found = codes('5 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3\n'
                  '5 recvfrom(3, "ping", 512, 0, {sa_family=AF_INET}, [16]) = 4\n'
                  '5 sendto(3, "ping\\0", 5, 0, {sa_family=AF_INET}, 16) = 5\n')
    assert "strlen-plus-one" in found


def test_unchecked_bind_then_listen():
    found = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                  '5 bind(3, {sa_family=AF_INET, sin_port=htons(5001), sin_addr=inet_addr("0.0.0.0")}, 16)'
                  ' = -1 EADDRINUSE (Address already in use)\n'
                  '5 listen(3, 5) = 0\n')
    assert "EADDRINUSE" in found["unchecked-bind"].text and "wrong-port" in found["unchecked-bind"].rules_out


def test_fork_parent_keeps_the_connected_fd():
    found = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                  '5 accept(3, NULL, NULL) = 4\n'
                  '5 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD) = 6\n'
                  '6 read(4, "hi\\n", 4096) = 3\n'
                  '6 write(4, "hi\\n", 3) = 3\n'
                  '6 read(4, "", 4096) = 0\n'
                  '6 close(4) = 0\n'
                  '5 accept(3, NULL, NULL) = 5\n')
    x = found["fork-parent-keeps-fd"]
    assert "no-close" in x.rules_out and "returned 4, 5" in x.text


def test_a_send_loop_rules_out_the_partial_send_hint_and_a_missing_loop_is_named():
    looped = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                   '5 accept(3, NULL, NULL) = 4\n'
                   '5 recvfrom(4, "abcdef", 4096, 0, NULL, NULL) = 6\n'
                   '5 sendto(4, "abc", 3, 0, NULL, 0) = 3\n'
                   '5 sendto(4, "def", 3, 0, NULL, 0) = 3\n')
    assert "ignores-partial-send" in looped[""].rules_out and "ignores-partial-send" not in looped
    short = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                  '5 accept(3, NULL, NULL) = 4\n'
                  '5 recvfrom(4, "abcdef", 4096, 0, NULL, NULL) = 6\n'
                  '5 sendto(4, "abc", 3, 0, NULL, 0) = 3\n'
                  '5 recvfrom(4, "", 4096, 0, NULL, NULL) = 0\n')
    assert "ignores-partial-send" in short


def test_a_send_the_partial_writes_shim_halved_is_not_strlen():
    """Under the shim a send of half the bytes received is the shim's cut: with a 0 byte
    just there (1 chunk in 256 of random data) it was named strlen() (c-select-no-fdclr,
    which never calls strlen()).  Without the shim, or cut elsewhere, it still is."""
    calls = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
             '5 accept(3, NULL, NULL) = 4\n'
             '5 recvfrom(4, "abcd\\0efg", 256, 0, NULL, NULL) = 8\n'
             '5 sendto(4, "abcd", 4, 0, NULL, 0) = 4\n'
             '5 recvfrom(4, "", 256, 0, NULL, NULL) = 0\n')
    parsed = trace.parse_text(calls)

    def found(halved: bool, text: list = parsed) -> set[str]:
        return {x.code for x in evidence.findings(text, ECHO, sends_halved=halved)}
    assert "nul-truncation" in found(False)
    assert "nul-truncation" not in found(True) and "ignores-partial-send" in found(True)
    # A 0 byte that is not where the shim cuts is still a strlen() under the shim.
    elsewhere = trace.parse_text(calls.replace('"abcd\\0efg"', '"ab\\0cdefg"')
                                 .replace('"abcd", 4, 0, NULL, 0) = 4', '"ab", 2, 0, NULL, 0) = 2'))
    assert "nul-truncation" in found(True, elsewhere)


def test_select_on_a_socket_closed_without_fd_clr():
    """The tutorials' select() loop with FD_CLR() missing: select() fails with EBADF on the
    closed socket and the server exits when its first client leaves (c-select-no-fdclr).
    A number accept() gave out again is a live socket, not that bug."""
    head = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
            '5 select(4, [3], NULL, NULL, NULL) = 1 (in [3])\n'
            '5 accept(3, NULL, NULL) = 4\n'
            '5 recvfrom(4, "", 256, 0, NULL, NULL) = 0\n'
            '5 close(4) = 0\n')
    found = codes(head + '5 select(5, [3 4], NULL, NULL, NULL) = -1 EBADF (Bad file descriptor)\n'
                         '5 +++ exited with 4 +++\n')
    assert "select-closed-fd" in found and "FD_CLR" in found["select-closed-fd"].text
    assert [c.name for c in found["select-closed-fd"].calls] == ["close", "select", "+++ exit"]
    reused = codes(head + '5 accept(3, NULL, NULL) = 4\n'
                          '5 select(5, [3 4], NULL, NULL, NULL) = -1 EBADF (Bad file descriptor)\n')
    assert "select-closed-fd" not in reused
    # Named where the failure is the server's exit, whichever step found it gone.
    x = found["select-closed-fd"]
    assert evidence.relevant(x, "expect", exited=True) and evidence.relevant(x, "connect", exited=True)
    assert not evidence.relevant(x, "expect", exited=False)


def test_an_echo_that_sends_more_than_it_received():
    """A stale buffer shows in the calls whichever recv() came back short: the sample's
    large-payload test named stale-buffer in 11 of 20 runs when only its output was read."""
    head = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
            '5 accept(3, NULL, NULL) = 4\n'
            '5 recvfrom(4, "hello, world\\n", 4096, 0, NULL, NULL) = 13\n'
            '5 sendto(4, "hello, world\\n", 13, 0, NULL, 0) = 13\n')
    stale = codes(head + '5 recvfrom(4, "hi\\n", 4096, 0, NULL, NULL) = 3\n'
                         '5 sendto(4, "hi\\nlo, world\\n", 13, 0, NULL, 0) = 13\n')
    assert "stale-buffer" in stale and "extra" in stale["stale-buffer"].rules_out
    assert "stale-buffer" not in codes(head + '5 recvfrom(4, "hi\\n", 4096, 0, NULL, NULL) = 3\n'
                                              '5 sendto(4, "hi\\n", 3, 0, NULL, 0) = 3\n')
    # Text decoded and encoded again (0xFF becomes U+FFFD, 3 bytes): more, but not stale.
    assert "stale-buffer" not in codes(head + '5 read(4, "\\377\\376", 8192) = 2\n'
                                              '5 write(4, "\\357\\277\\275\\357\\277\\275", 6) = 6\n')
    # A line echo sends a whole line after its last piece came: no more than it received.
    assert "stale-buffer" not in codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                                       '5 accept(3, NULL, NULL) = 4\n'
                                       '5 read(4, "hel", 4096) = 3\n'
                                       '5 read(4, "lo\\n", 4096) = 3\n'
                                       '5 write(4, "hello\\n", 6) = 6\n')


def test_whole_lines_only():
    found = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                  '5 accept(3, NULL, NULL) = 4\n'
                  '5 read(4, "AB\\0C\\nE", 4096) = 6\n'
                  '5 write(4, "AB\\0C\\n", 5) = 5\n')
    assert "line-echo" in found and "ignores-partial-send" not in found


_FORKED = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
           '5 accept(3, NULL, NULL) = 4\n'
           '5 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD) = 6\n'
           '5 close(4) = 0\n'
           '6 read(4, "hi\\n", 4096) = 3\n'
           '6 write(4, "hi\\n", 3) = 3\n')


def test_closes_first_needs_every_copy_of_the_connection_closed():
    """A server that closes after one reply, in one process or in a forked child; a fork
    parent's close of its copy is not the end of the connection (seen in CI: a trace whose
    last calls were missing named closes-first for a child still reading)."""
    one = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                '5 accept(3, NULL, NULL) = 4\n'
                '5 read(4, "hi\\n", 4096) = 3\n'
                '5 write(4, "hi\\n", 3) = 3\n'
                '5 close(4) = 0\n')
    assert "closes-first" in one
    forked = codes(_FORKED + '6 close(4) = 0\n')
    assert "closes-first" in forked and forked["closes-first"].calls[-1].pid == 6
    assert "closes-first" not in codes(_FORKED)                       # the child holds it
    assert "closes-first" not in codes(_FORKED + '6 read(4,  <unfinished ...>\n'
                                                 '6 +++ killed by SIGKILL +++\n')
    assert "closes-first" not in codes(_FORKED + '6 read(4, "", 4096) = 0\n6 close(4) = 0\n')


_THREADED = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
             '5 accept4(3, NULL, NULL, SOCK_CLOEXEC) = 4\n'
             '5 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM'
             '|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7f, parent_tid=0x7f, '
             'exit_signal=0, stack=0x7f, stack_size=0x7fff00, tls=0x7f} => {parent_tid=[6]}, 88) = 6\n'
             '6 recvfrom(4, "hi\\n", 4096, 0, NULL, NULL) = 3\n'
             '6 sendto(4, "hi\\n", 3, 0, NULL, 0) = 3\n')


def test_a_thread_shares_its_process_s_connections():
    """A connection accepted by one thread and closed by another is closed: threads share
    one fd table (py-first-recv-only and rust-read-once, one thread per client, lost their
    closes-first because the accepting thread was taken for a holder of its own copy)."""
    closed = codes(_THREADED + '6 close(4) = 0\n')
    assert "closes-first" in closed and closed["closes-first"].calls[-1].pid == 6
    assert "closes-first" not in codes(_THREADED)                     # still open


def test_rules_that_read_a_protocol_apply_only_to_it():
    """Echo rules compare a connection's sends with its receives: in a chat server the sends
    are other clients' lines (the partial-line test named line-echo once in 20 runs). And a
    file server closes after its reply by design: not closes-first."""
    chat = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
            '5 accept(3, NULL, NULL) = 4\n'
            '5 read(4, "are you there?\\n", 4096) = 15\n'
            '5 write(4, "alice: half a li\\n", 17) = 17\n'
            '5 read(4, "more text", 4096) = 9\n')
    assert "line-echo" in codes(chat)                                 # as an echo: true
    assert codes(chat, Conversation(echo=False)) == {}
    served = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
              '5 accept(3, NULL, NULL) = 4\n'
              '5 read(4, "GET a.bin\\n", 1023) = 10\n'
              '5 write(4, "\\0\\0\\0\\0\\0\\0\\0\\4abcd", 12) = 12\n'
              '5 close(4) = 0\n')
    assert "closes-first" in codes(served, Conversation(echo=False, ends="client"))
    assert "closes-first" not in codes(served, Conversation(echo=False, ends="server"))
    # A pinger's next request is one byte longer than the reply it got: not strlen()+1.
    pinger = ('5 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 3\n'
              '5 recvfrom(3, "ping 9", 1024, 0, NULL, NULL) = 6\n'
              '5 sendto(3, "ping 10", 7, 0, NULL, 16) = 7\n')
    assert "strlen-plus-one" in codes(pinger)
    assert "strlen-plus-one" not in codes(pinger, Conversation())


_CHAT = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
         '5 accept(3, NULL, NULL) = 4\n'
         '5 accept(3, NULL, NULL) = 5\n'
         '5 recvfrom(4, "{got}", 511, 0, NULL, NULL) = {n}\n'
         '5 sendto(5, "alice: {got}", {m}, 0, NULL, 0) = {m}\n')


def _relayed(got: str, conversation: Conversation = Conversation(lines="relayed")) -> dict:
    raw = got.encode().decode("unicode_escape")
    return codes(_CHAT.format(got=got, n=len(raw), m=len(raw) + 7), conversation)


def test_a_relay_of_what_one_recv_returned_is_named_in_a_line_protocol():
    """A chat server that sends on what one recv() returned, as it came: several lines
    under one prefix, or half a line; a whole line relayed is right."""
    several = _relayed("one\\ntwo\\nthree\\n")
    assert "no-line-buffer" in several and "more than one line" in several["no-line-buffer"].text
    assert {"mismatch", "short"} <= set(several["no-line-buffer"].rules_out)
    part = _relayed("half a li")
    assert "no-line-buffer" in part and "part of a line" in part["no-line-buffer"].text
    assert _relayed("hello everyone\\n") == {}
    # The piece with a newline of the program's own after it (it strips and adds one).
    own = _CHAT.replace("{m}, 0, NULL, 0) = {m}", "17, 0, NULL, 0) = 17").replace(
        '"alice: {got}"', '"alice: {got}\\n"').format(got="half a li", n=9)
    assert "part of a line" in codes(own, Conversation(lines="relayed"))["no-line-buffer"].text
    # Not in another protocol (a proxy passes bytes on as they come), nor back to the sender.
    assert _relayed("half a li", Conversation()) == {}
    echo = _CHAT.replace("sendto(5,", "sendto(4,").format(got="half a li", n=9, m=16)
    assert codes(echo, Conversation(lines="relayed")) == {}


def _answered(got: str, reply: str = "ERROR unknown command\\n",
              conversation: Conversation = Conversation(lines="answered")) -> dict:
    raw, out = (x.encode().decode("unicode_escape") for x in (got, reply))
    return codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                 '5 accept(3, NULL, NULL) = 4\n'
                 f'5 recvfrom(4, "{got}", 1023, 0, NULL, NULL) = {len(raw)}\n'
                 f'5 sendto(4, "{reply}", {len(out)}, 0, NULL, 0) = {len(out)}\n', conversation)


def test_part_of_a_line_answered_at_once_is_named_in_a_command_protocol():
    """A command server that answers a piece with no newline in it took the piece for a
    whole command; one that answers the whole lines of a receive is right, whatever
    follows them; a chat server sends on a connection whatever the others say."""
    found = _answered("S")
    assert "no-line-buffer" in found and "part of a line" in found["no-line-buffer"].text
    assert '"S"' in found["no-line-buffer"].text and "ERROR unknown command" in found["no-line-buffer"].text
    assert _answered("SET a 1\\nGE", "OK\\n") == {}
    # A reply queued for whole lines and sent after a piece came (a poll() server).
    queued = ('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
              '5 accept(3, NULL, NULL) = 4\n'
              '5 recvfrom(4, "SET a 1\\nGET a\\n", 1023, 0, NULL, NULL) = 14\n'
              '5 recvfrom(4, "GE", 1023, 0, NULL, NULL) = 2\n'
              '5 sendto(4, "OK\\nVALUE 1\\n", 11, 0, NULL, 0) = 11\n')
    assert codes(queued, Conversation(lines="answered")) == {}
    assert _answered("S", conversation=Conversation(lines="relayed")) == {}
    assert _answered("S", conversation=Conversation()) == {}


def test_blocking_waitpid_in_the_sigchld_handler():
    found = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                  '5 accept(3, NULL, NULL) = 4\n'
                  '5 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---\n'
                  '5 wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 6\n'
                  '5 wait4(-1,  <unfinished ...>\n'
                  '5 +++ killed by SIGKILL +++\n')
    assert "sigchld-blocking-wait" in found
    # A handler's loop of waitpid(WNOHANG), killed in one of its instantaneous calls
    # (tcp-echo/c-stale-buffer, once in 20 runs): strace shows no options for that call.
    looped = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                   '5 accept(3, NULL, NULL) = 4\n'
                   '5 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---\n'
                   '5 wait4(-1, NULL, WNOHANG, NULL) = 6\n'
                   '5 wait4(-1,  <unfinished ...>\n'
                   '5 +++ killed by SIGKILL +++\n')
    assert "sigchld-blocking-wait" not in looped
    # ... and with no call that returned, how it waits is not known.
    assert "sigchld-blocking-wait" not in codes('5 accept(3, NULL, NULL) = 4\n'
                                                '5 wait4(-1,  <unfinished ...>\n'
                                                '5 +++ killed by SIGKILL +++\n')


def test_thread_creation_that_fails():
    found = codes('5 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, '
                  'exit_signal=0}, 88) = -1 EAGAIN (Resource temporarily unavailable)\n')
    assert "EAGAIN" in found["thread-create-fails"].text


def test_fork_that_fails_says_whether_the_children_ended():
    """Zombies (children ended, never reaped) or children that never end (c-no-eof-check's
    spin on recv() == 0) fill the process limit alike; the advice differs."""
    fork = '5 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD) = {}\n'
    failed = '5 clone(child_stack=NULL, flags=CLONE_CHILD_SETTID|SIGCHLD) = -1 EAGAIN (Resource temporarily unavailable)\n'
    zombies = codes(fork.format(6) + '6 +++ exited with 0 +++\n' + fork.format(7)
                    + '7 +++ exited with 0 +++\n' + failed)
    assert "zombies" in zombies["fork-fails"].text and "after 2 children" in zombies["fork-fails"].text
    running = codes(fork.format(6) + fork.format(7) + '6 recvfrom(4, "", 4096, 0, NULL, NULL) = 0\n'
                    + failed)
    assert "2 of them were still running" in running["fork-fails"].text


def test_the_graded_run_s_stderr_names_a_fork_that_failed():
    """The calls come from a replay, which may fail before its fork() does (6 of 20 runs of
    c-no-eof-check's no-fd-leak lost fork-fails): the graded run's perror() says it."""
    class F:
        causes = [("the server closed the connection before sending everything", "closed-early")]
        step = type("Step", (), {"action": "expect"})()
    f = F()
    evidence.apply(f, [], stderr="fork: Resource temporarily unavailable\n")
    assert [code for _, code in f.causes] == ["fork-fails", "closed-early"]
    assert "fork: Resource temporarily unavailable" in f.causes[0][0]
    g = F()
    evidence.apply(g, [], stderr="bind: Address already in use\n")
    assert [code for _, code in g.causes] == ["closed-early"]


def test_lockstep_client_and_close_instead_of_shutdown():
    found = codes('5 read(0, "one\\ntwo\\n", 4096) = 8\n'
                  '5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                  '5 connect(3, {sa_family=AF_INET}, 16) = 0\n'
                  '5 sendto(3, "one\\n", 4, 0, NULL, 0) = 4\n'
                  '5 recvfrom(3, "one\\n", 4095, 0, NULL, NULL) = 4\n'
                  '5 sendto(3, "two\\n", 4, 0, NULL, 0) = 4\n'
                  '5 sendto(3, "", 0, 0, NULL, 0) = 0\n')
    assert {"lockstep", "zero-send"} <= set(found)
    closer = codes('5 read(0, "data", 4096) = 4\n'
                   '5 read(0, "", 4096) = 0\n'
                   '5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                   '5 connect(3, {sa_family=AF_INET}, 16) = 0\n'
                   '5 sendto(3, "data", 4, 0, NULL, 0) = 4\n'
                   '5 close(3) = 0\n'
                   '5 exit_group(0) = ?\n'
                   '5 +++ exited with 0 +++\n')
    assert "close-not-shutdown" in closer and "lockstep" not in closer
    # strlen() of a line that starts with a 0 byte, with more input still to send: not a
    # 0-byte send meant as the end (c-lockstep-banner-close named it in some runs only).
    midway = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                   '5 connect(3, {sa_family=AF_INET}, 16) = 0\n'
                   '5 read(0, "one\\n\\0two\\n", 4096) = 9\n'
                   '5 sendto(3, "one\\n", 4, 0, NULL, 0) = 4\n'
                   '5 recvfrom(3, "one\\n", 4095, 0, NULL, NULL) = 4\n'
                   '5 sendto(3, "", 0, 0, NULL, 0) = 0\n'
                   '5 recvfrom(3,  <unfinished ...>\n')
    assert "lockstep" in midway and "zero-send" not in midway


def test_a_poll_loop_is_not_lockstep():
    """A client that receives when poll() says a reply is there interleaves its sends and
    receives as the data comes: not lock-step (tcp-echo-client's poll() samples were named
    lockstep in 11 of 20 runs, depending on where the replies fell)."""
    polled = codes('5 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3\n'
                   '5 connect(3, {sa_family=AF_INET}, 16) = 0\n'
                   '5 poll([{fd=0, events=POLLIN}, {fd=3, events=POLLIN}], 2, -1) = 1\n'
                   '5 read(0, "one\\ntwo\\n", 4096) = 8\n'
                   '5 poll([{fd=0, events=POLLIN}, {fd=3, events=POLLIN|POLLOUT}], 2, -1) = 2\n'
                   '5 sendto(3, "one\\ntwo\\n", 8, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0) = 8\n'
                   '5 recvfrom(3, "one\\n", 4095, 0, NULL, NULL) = 4\n'
                   '5 poll([{fd=0, events=POLLIN}, {fd=3, events=POLLIN}], 2, -1) = 1\n'
                   '5 read(0, "three\\n", 4096) = 6\n'
                   '5 poll([{fd=0, events=POLLIN}, {fd=3, events=POLLIN|POLLOUT}], 2, -1) = 1\n'
                   '5 sendto(3, "three\\n", 6, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0) = 6\n')
    assert "lockstep" not in polled


def test_a_contradicted_hint_is_left_out():
    class F:
        causes = [("bytes were lost", "lost-bytes"),
                  ("send() may write fewer bytes than asked: check its return value", "hint")]
    f = F()
    evidence.apply(f, [evidence.Finding("", "", [], ("ignores-partial-send", "lost-bytes"))])
    assert f.causes == []


# ------------------------------------------------------------------ in the box

@pytest.fixture
def fd_leak_run():
    spec = load_spec(SPECS / "tcp-echo.yaml")
    folder = SUBMISSIONS / "tcp-echo" / "c-fd-leak"
    run = _Run(spec, folder, detect_language(spec, folder), GradeOptions())
    run.open()
    yield spec, run
    run.close()


@pytest.mark.skipif(not trace.available(), reason="strace is not installed")
def test_a_traced_program_keeps_its_pid_and_its_verdict(fd_leak_run):
    """c-fd-leak fails no-fd-leak untraced and traced alike (under plain `strace --`, the
    fds counted were strace's and it passed), and the trace holds its calls."""
    spec, run = fd_leak_run
    if evidence.tracing_refused(run.prepared):
        pytest.skip("this machine refuses ptrace")
    test = next(t for t in spec.tests if t.name == "no-fd-leak")
    verdicts = []
    for traced in (False, True):
        with scopes.TestScope(run.prepared, test, engine.test_seed(run.seed, test), Deadline.after(60),
                       trace=traced) as scope:
            out = scope.run()
        verdicts.append((out.failure is not None, out.error))
    assert verdicts == [(True, None), (True, None)]
    calls = [c for cs in scope.traces for c in cs]
    assert sum(1 for c in calls if c.name in ("accept", "accept4") and c.result) >= 100
    # Complete: the program was killed in its last accept(), and that call is there.
    assert any(c.name.startswith("accept") and c.result is None for c in calls)
    assert not list(Path(run.prepared.workdir.path).glob(".socket-grader-trace-*"))


@pytest.mark.skipif(not trace.available(), reason="strace is not installed")
def test_a_trace_strace_had_not_finished_is_not_evidence(monkeypatch):
    """A trace cut short has lost its last calls: no cause is read from it, and the
    feedback says why (the causes from outside still stand)."""
    spec = load_spec(SPECS / "tcp-echo.yaml")
    folder = SUBMISSIONS / "tcp-echo" / "c-getline-echo"
    whole = engine.grade(spec, folder, GradeOptions(only=["binary-safe"])).tests[0]
    if whole.failure.evidence_note:
        pytest.skip(whole.failure.evidence_note)     # this machine cannot trace
    assert whole.failure.evidence == "calls" and "line-echo" in whole.diagnoses
    monkeypatch.setattr(trace, "complete", lambda path: False)
    monkeypatch.setattr(trace, "FLUSH_WAIT", 0.2)
    cut = engine.grade(spec, folder, GradeOptions(only=["binary-safe"])).tests[0]
    assert cut.status is whole.status and cut.points == whole.points
    assert cut.failure.evidence == "outside" and "line-echo" not in cut.diagnoses
    assert "not used as evidence" in cut.failure.evidence_note


def test_a_replay_waits_as_the_graded_run_did_before_the_failed_step():
    """Steps the graded run passed wait their own time in the replay (strace's cost must
    not fail one early); the failed step is capped, unless kernel evidence ended its wait."""
    from grader.steps import Context, StepFailed
    spec = load_spec(SPECS / "tcp-echo.yaml")
    test = next(t for t in spec.tests if t.name == "partial-writes")
    connect, send, expect, shutdown = test.steps[:4]
    failed = StepFailed("no echo")
    failed.test_step = expect

    def capped(step, stuck):
        failed.stuck = stuck
        ctx = Context(spec=spec, test=test, deadline=Deadline.after(60), rng=None, host="127.0.0.1",
                      port=0, world=None, wait_cap=evidence.REPLAY_WAIT, replay_of=failed)
        ctx.step = step
        return ctx._capped()

    assert [capped(s, None) for s in (connect, send, expect, shutdown)] == [False, False, True, True]
    assert [capped(s, ["blocked"]) for s in (connect, send, expect, shutdown)] == [False, False, False, True]


@pytest.mark.skipif(not trace.available(), reason="strace is not installed")
def test_a_traced_program_can_be_judged_stuck():
    """strace is in the programs' network but is not one of them: a replay's waits end
    on the same kernel evidence as the graded run's (else each waited out its deadline)."""
    spec = load_spec(SPECS / "tcp-echo.yaml")
    folder = SUBMISSIONS / "tcp-echo" / "c-correct-fork"
    run = _Run(spec, folder, detect_language(spec, folder), GradeOptions())
    run.open()
    try:
        if evidence.tracing_refused(run.prepared):
            pytest.skip("this machine refuses ptrace")
        test = next(t for t in spec.tests if t.name == "echo-line")
        with scopes.TestScope(run.prepared, test, engine.test_seed(run.seed, test), Deadline.after(60),
                              trace=True) as scope:
            out = scope.run()
            assert out.failure is None and out.error is None
            blocked = poll_until(lambda: scope.stuck([]),
                                 Deadline.after(5, "the server to be blocked in accept()"))
            assert blocked and {b.call for b in blocked} == {"accept()"}, blocked
    finally:
        run.close()


@pytest.mark.skipif(not trace.available(), reason="strace is not installed")
def test_tests_that_fail_at_the_start_share_one_replay(monkeypatch):
    """A server that never listens on its port fails every test before the first step,
    the same way: one replay of its start serves them all (the same shims, no files of
    their own), and each of them gets the causes from its calls."""
    replays = []
    real = scopes.TestScope.__init__

    def counting(self, prepared, test, *args, **kwargs):
        if kwargs.get("trace"):
            replays.append(test.name)
        real(self, prepared, test, *args, **kwargs)
    monkeypatch.setattr(scopes.TestScope, "__init__", counting)
    spec = load_spec(SPECS / "tcp-echo.yaml")
    r = engine.grade(spec, SUBMISSIONS / "tcp-echo" / "c-no-htons")
    failed = [t for t in r.tests if t.status.value == "failed"]
    assert len(failed) == len(spec.tests)
    if failed[0].failure.evidence_note:
        pytest.skip(failed[0].failure.evidence_note)     # this machine cannot trace
    at_start = [t for t in failed if t.failure.step is None]
    assert len(at_start) >= 15, [t.name for t in failed]
    assert all(t.failure.evidence == "calls" and "htons" in t.diagnoses for t in at_start), \
        [(t.name, t.diagnoses) for t in at_start]
    # The start tests: one replay each for plain, partial-writes (a shim) and the reference
    # interop test (files of its own); port-in-use fails at its own launch step.
    assert len(replays) <= 4, replays
