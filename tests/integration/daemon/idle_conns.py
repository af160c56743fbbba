"""idle_conns.py SOCKET PID N - N keep-alive connections to the daemon's
API on SOCKET, each of which has served one request (GET /v1/health) and
stays open, idle; prints the growth of the daemon's resident memory (PID's
VmRSS) over them, in KiB per connection, rounded down.  Standard library
only; for daemon.sh's case idle_memory."""
import socket
import sys


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    sys.exit("no VmRSS for pid %d" % pid)


def one_request(s):
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: theater\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            sys.exit("the connection closed before the answer")
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("not 200: %r" % head[:80])
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        b = s.recv(65536)
        if not b:
            sys.exit("the connection closed in the body")
        body += b


def main():
    path, pid, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    warm = socket.socket(socket.AF_UNIX)  # the daemon's first request's own costs
    warm.connect(path)
    one_request(warm)
    before = rss_kib(pid)
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(path)
        one_request(s)
        conns.append(s)
    after = rss_kib(pid)
    print(max(0, after - before) // n)
    for s in conns:
        s.close()
    warm.close()


main()
