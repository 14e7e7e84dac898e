"""A minimal WebSocket client (RFC 6455) over the standard library, enough to read Grace's
feed: the opening handshake with a subprotocol, text frames in, ping answered with pong, close.

Grace's feed sends small JSON text frames; this reads frames up to ``FRAME_BYTES_MAX`` and
refuses anything larger rather than buffering without bound.
"""

import base64
import hashlib
import os
import socket
import ssl
import struct
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FRAME_BYTES_MAX = 16 * 1024 * 1024
HEAD_BYTES_MAX = 16 * 1024

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WebSocketClosed(Exception):
    """The server closed the connection; ``code`` and ``reason`` say why when it said."""

    def __init__(self, code=None, reason=""):
        super().__init__(f"closed ({code}): {reason}" if code else "closed")
        self.code = code
        self.reason = reason


class HandshakeError(Exception):
    """The upgrade was refused; ``status`` is the HTTP status."""

    def __init__(self, status, body):
        super().__init__(f"upgrade refused with {status}: {body[:200]!r}")
        self.status = status
        self.body = body


class WebSocket:
    def __init__(self, url, protocols=(), timeout_s=10.0):
        parts = urlsplit(url)
        secure = parts.scheme in ("wss", "https")
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((parts.hostname, port), timeout=timeout_s)
        if secure:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        self._sock = sock
        self._buffer = b""
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            self._handshake(parts.netloc, path, protocols)
        except BaseException:
            sock.close()
            raise

    def _handshake(self, host, path, protocols):
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_head()
        status_line, _, rest = head.partition("\r\n")
        status = int(status_line.split(" ")[1])
        if status != 101:
            raise HandshakeError(status, rest + self._buffer.decode(errors="replace"))
        headers = {}
        for line in rest.split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise HandshakeError(status, "bad Sec-WebSocket-Accept")

    def _read_head(self):
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > HEAD_BYTES_MAX:
                raise HandshakeError(0, "response head too large")
            chunk = self._sock.recv(4096)
            if not chunk:
                raise WebSocketClosed(None, "closed during the handshake")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        return head.decode("latin-1")

    def _read_exact(self, count):
        while len(self._buffer) < count:
            chunk = self._sock.recv(max(4096, count - len(self._buffer)))
            if not chunk:
                raise WebSocketClosed(None, "connection lost")
            self._buffer += chunk
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def _read_frame(self):
        first, second = self._read_exact(2)
        fin, opcode = first & 0x80, first & 0x0F
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exact(8))
        if length > FRAME_BYTES_MAX:
            raise WebSocketClosed(1009, "frame too large")
        mask = self._read_exact(4) if second & 0x80 else None
        payload = self._read_exact(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(fin), opcode, payload

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        head = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            head += bytes([0x80 | length])
        elif length < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(head + mask + masked)

    def recv(self):
        """The next text message; answers pings; raises WebSocketClosed at the end."""
        message = b""
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == OP_PING:
                self._send(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WebSocketClosed(code, payload[2:].decode(errors="replace"))
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                message += payload
                if len(message) > FRAME_BYTES_MAX:
                    raise WebSocketClosed(1009, "message too large")
                if fin:
                    return message.decode()

    def settimeout(self, timeout_s):
        self._sock.settimeout(timeout_s)

    def close(self):
        try:
            self._send(OP_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self._sock.close()
