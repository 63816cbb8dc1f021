#!/usr/bin/env python3
"""control_abuse.py: hostile and crowded clients of a VM's control socket,
for tests/integration/control_abuse.bats. Each mode prints what it saw, one
fact a line, and exits 0 unless the socket misbehaved in a way it checks.

  fds SOCK COUNT NFDS LINE   COUNT requests LINE, each with NFDS fds
                             (/dev/null); prints each distinct reply once
  partial SOCK               an fd on the first half of a status line
  idle SOCK N SECONDS        N connections that send nothing
  slow SOCK N SECONDS        N connections that send half a line
  noread SOCK N SECONDS      N status requests in one write, no reading
  many SOCK N                N clients at once, each one status request;
                             prints 'ok K' (K answered)
"""
import array
import os
import socket
import sys
import threading
import time

STATUS = b'{"execute":"status"}\n'


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def read_line(s, buf=b""):
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line.decode(), rest


def send_with_fds(s, data, nfds):
    null = os.open("/dev/null", os.O_RDONLY)
    fds = [os.dup(null) for _ in range(nfds)]
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
            array.array("i", fds).tobytes())] if fds else []
    s.sendmsg([data], anc)
    for fd in fds + [null]:
        os.close(fd)


def mode_fds(path, count, nfds, line):
    s = connect(path)
    s.settimeout(10)
    _, buf = read_line(s)
    seen = set()
    for _ in range(int(count)):
        send_with_fds(s, line.encode() + b"\n", int(nfds))
        reply, buf = read_line(s, buf)
        # the same reply each time, but for status's changing numbers
        key = reply if '"error"' in reply else "return"
        if key not in seen:
            seen.add(key)
            print(key)


def mode_partial(path):
    s = connect(path)
    s.settimeout(10)
    _, buf = read_line(s)
    send_with_fds(s, b'{"execute":', 1)
    time.sleep(0.2)
    s.sendall(b'"status"}\n')
    reply, buf = read_line(s, buf)
    print(reply)
    s.sendall(STATUS)
    reply, buf = read_line(s, buf)
    print("return" if '"return"' in reply else reply)
    # an fd on a line that never ends: closed with the connection
    send_with_fds(s, b'{"execute":', 1)
    time.sleep(0.2)
    s.close()


def hold(path, n, secs, first):
    socks = []
    for _ in range(int(n)):
        s = connect(path)
        try:
            if first:
                s.sendall(first)
        except OSError:  # a server that closed it at once: kept anyway
            pass
        socks.append(s)
    print("connected %d" % len(socks), flush=True)
    time.sleep(float(secs))


def mode_noread(path, n, secs):
    s = connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(STATUS * int(n))
    print("sent %d" % int(n), flush=True)
    time.sleep(float(secs))


def mode_many(path, n):
    ok = []
    errors = []

    def one():
        try:
            s = connect(path)
            s.settimeout(30)
            _, buf = read_line(s)
            s.sendall(STATUS)
            reply, _ = read_line(s, buf)
            if '"return"' in reply:
                ok.append(1)
            else:
                errors.append(reply)
            s.close()
        except Exception as e:  # reported, and the count shows it
            errors.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(int(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("ok %d" % len(ok))
    for e in sorted(set(errors))[:5]:
        print("error %s" % e)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "fds":
        mode_fds(*args)
    elif mode == "partial":
        mode_partial(*args)
    elif mode == "idle":
        hold(args[0], args[1], args[2], None)
    elif mode == "slow":
        hold(args[0], args[1], args[2], b'{"execute":"sta')
    elif mode == "noread":
        mode_noread(*args)
    elif mode == "many":
        mode_many(*args)
    else:
        sys.exit("control_abuse.py: unknown mode %s" % mode)


if __name__ == "__main__":
    main()
