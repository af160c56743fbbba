"""ws_talk.py PORT PATH PROTOCOL STEP... - a small WebSocket client (RFC 6455,
standard library only) for test_http_sdk.c and cli/replay_http.sh.  Opens ws://127.0.0.1:PORT/PATH
(offering PROTOCOL unless it is "-") and runs the steps in order:

  t:TEXT   send a text message        b:HEX   send a binary message
  B:N      send a binary message of N bytes, then print "sent:N"
  P:N      read N bytes of what comes, whatever they are, then print "got:N"
  s:MS     sleep MS milliseconds
  r        read one message and print it as "text:T", "binary:HEX" or
           "close:CODE" (one line); after a close, answer it and stop
  d        read messages without printing them until a close, then as r
  c        send a close (1000)

Exit status 0 when every step ran, 1 with the reason otherwise.
"""
import os
import socket
import struct
import sys
import time


def main():
    port, path, proto, steps = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" % path)
    if proto != "-":
        head += "Sec-WebSocket-Protocol: %s\r\n" % proto
    s.sendall((head + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            sys.exit("closed before the upgrade")
        buf += b
    answer, buf = buf.split(b"\r\n\r\n", 1)
    if not answer.startswith(b"HTTP/1.1 101"):
        sys.exit("no upgrade: %r" % answer)

    def need(n):
        nonlocal buf
        while len(buf) < n:
            b = s.recv(4096)
            if not b:
                sys.exit("closed")
            buf += b

    def frame():
        nonlocal buf
        need(2)
        op, n, at = buf[0] & 15, buf[1] & 127, 2
        if n == 126:
            need(4)
            n, at = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            need(10)
            n, at = struct.unpack(">Q", buf[2:10])[0], 10
        need(at + n)
        data, buf = buf[at:at + n], buf[at + n:]
        return op, data

    def send(op, data):
        mask, n = os.urandom(4), len(data)
        if n < 126:
            head = bytes([0x80 | op, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | op, 0x80 | 126]) + struct.pack(">H", n)
        else:
            head = bytes([0x80 | op, 0x80 | 127]) + struct.pack(">Q", n)
        m = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        s.sendall(head + mask + masked)

    for step in steps:
        if step.startswith("t:"):
            send(1, step[2:].encode())
        elif step.startswith("b:"):
            send(2, bytes.fromhex(step[2:]))
        elif step.startswith("B:"):
            send(2, bytes(range(256)) * (int(step[2:]) // 256) + bytes(int(step[2:]) % 256))
            print("sent:" + step[2:])
        elif step.startswith("P:"):
            need(int(step[2:]))  # (kept in buf: the steps after read them as frames)
            print("got:" + step[2:])
        elif step.startswith("s:"):
            time.sleep(int(step[2:]) / 1000)
        elif step == "c":
            send(8, struct.pack(">H", 1000))
        elif step in ("r", "d"):
            op, data = frame()
            while op in (9, 10) or (step == "d" and op != 8):  # not messages, or not shown
                op, data = frame()
            if op == 1:
                print("text:" + data.decode())
            elif op == 2:
                print("binary:" + data.hex())
            elif op == 8:
                print("close:%d" % (struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 0))
                send(8, data[:2])
                break
            else:
                print("opcode:%d" % op)
        else:
            sys.exit("unknown step " + step)
        sys.stdout.flush()
    s.close()


main()
