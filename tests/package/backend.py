#!/usr/bin/python3
# TLS backend for the package test (a copy of tests/system/backend.py): backend.py CERT KEY ADDRESS PORT NAME
# Terminates TLS with a certificate for NAME. A connection whose first line
# is "ECHO" becomes a line echo (the long relay of check 6); anything else is
# read as an HTTP request head and answered "tls-backend NAME".
import socket
import socketserver
import ssl
import sys

cert, key, addr, port, name = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        first = self.rfile.readline()
        if first.startswith(b"ECHO"):
            self.wfile.write(b"ECHO ready\n")
            for line in self.rfile:
                self.wfile.write(line)
            return
        while True:
            line = self.rfile.readline()
            if line in (b"", b"\r\n", b"\n"):
                break
        body = ("tls-backend %s\n" % name).encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)


class Server(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True

    def finish_request(self, request, client_address):
        # the handshake runs in the connection's thread, not in accept
        try:
            request = ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(request, client_address, self)


Server((addr, int(port)), Handler).serve_forever()
