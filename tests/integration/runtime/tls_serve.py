"""tls_serve.py CERT KEY - a small HTTPS server (standard library only) for
test_http_client.c.  Listens on 127.0.0.1 at a free port, prints "PORT PID"
on one line, then answers every GET with 200 and the body "hello over tls"
(HTTP/1.1, one thread per connection) until it is killed, or for at most
five minutes.  A client that fails the TLS handshake is simply dropped.
"""
import http.server
import os
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"hello over tls"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        # the handshake runs in the connection's thread, not in accept
        sock, addr = self.socket.accept()
        return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # failed handshakes are what some requests test


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = Server(("127.0.0.1", 0), Handler)
print("%d %d" % (srv.server_address[1], os.getpid()), flush=True)
threading.Timer(300, lambda: os._exit(1)).start()
srv.serve_forever()
