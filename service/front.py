"""The buffering front: the only socket a client talks to.

gunicorn's gthread workers give each connection a thread while its request is
read, so a handful of clients that send a byte a second hold every thread and
starve everyone else. This front, one asyncio process, does what nginx would do
in front of gunicorn:

- it reads a whole request, headers within ``header_timeout`` seconds and the
  body within ``body_timeout`` seconds (slow clients wait here, costing a
  coroutine, not a thread), with the body capped at ``max_body`` bytes
  (413 before a byte of it is read) and the bodies held at once capped at
  ``max_buffered`` bytes (503 with Retry-After above it);
- only then does it pass the request to gunicorn over a Unix socket, as one
  ``Content-Length`` request with ``Connection: close`` (a chunked request
  body is decoded first), and relay the answer;
- it reads the answer at once (up to ``high_water`` bytes ahead of a slow
  reader), so a client that reads slowly does not hold a gunicorn thread either;
  a client that takes no bytes for ``send_timeout`` seconds is disconnected.

Every refusal is a problem document, like the app's own errors.
"""

import asyncio
import json
import logging
import time

__all__ = ["PROBLEM_MIME", "Front", "Limits", "Refused", "problem_bytes"]

log = logging.getLogger(__name__)

PROBLEM_MIME = "application/problem+json"
_DROP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length",
         "expect", "te", "upgrade"}
_REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large",
            431: "Request Header Fields Too Large", 501: "Not Implemented",
            503: "Service Unavailable"}


class Limits:
    """The front's limits; each has a ``BAYESREG_FRONT_*`` or ``BAYESREG_*`` setting."""

    def __init__(self, max_body=16 * 1024 * 1024, max_header=64 * 1024, header_timeout=10.0,
                 body_timeout=60.0, upstream_timeout=300.0, send_timeout=60.0,
                 max_connections=1024, max_buffered=512 * 1024 * 1024,
                 high_water=8 * 1024 * 1024, retry_after=5):
        self.max_body, self.max_header = int(max_body), int(max_header)
        self.header_timeout, self.body_timeout = float(header_timeout), float(body_timeout)
        self.upstream_timeout, self.send_timeout = float(upstream_timeout), float(send_timeout)
        self.max_connections, self.max_buffered = int(max_connections), int(max_buffered)
        self.high_water, self.retry_after = int(high_water), int(retry_after)


class Refused(Exception):
    def __init__(self, status, field, message, retry_after=None):
        super().__init__(message)
        self.status, self.field, self.message, self.retry_after = status, field, message, retry_after


def problem_bytes(status, field, message, retry_after=None):
    body = json.dumps({"type": f"https://bayesreg.invalid/problems/{status}",
                       "title": _REASONS.get(status, "Error"), "status": status,
                       "detail": f"{field}: {message}",
                       "errors": [{"field": field, "message": message}]}).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            f"Content-Type: {PROBLEM_MIME}", f"Content-Length: {len(body)}", "Connection: close"]
    if retry_after is not None:
        head.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Front:
    def __init__(self, upstream, limits=None):
        self.upstream = upstream  # path of gunicorn's Unix socket
        self.limits = limits or Limits()
        self.connections = 0
        self.buffered = 0
        self.served = 0
        self._tasks = set()

    async def serve(self, host, port, stop, drain=30.0):
        """Serve until ``stop`` is set; then stop accepting and let requests in flight end
        (at most ``drain`` seconds), so no client loses the answer to a request it sent."""
        server = await asyncio.start_server(self.handle, host, port,
                                            limit=self.limits.max_header, reuse_address=True)
        async with server:
            await stop.wait()
            server.close()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=drain)

    async def handle(self, reader, writer):
        lim = self.limits
        self._tasks.add(asyncio.current_task())
        self.connections += 1
        try:
            if self.connections > lim.max_connections:
                raise Refused(503, "connection", f"the server holds {lim.max_connections} "
                              "connections at once (BAYESREG_FRONT_MAX_CONNECTIONS); retry later",
                              lim.retry_after)
            await self._one(reader, writer)
        except Refused as exc:
            writer.write(problem_bytes(exc.status, exc.field, exc.message, exc.retry_after))
            await self._flush(writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            writer.transport.abort()  # the client went away or stopped reading
        except Exception:  # never let one connection take the front down
            log.exception("front: unexpected error")
            writer.transport.abort()
        finally:
            self.connections -= 1
            self._tasks.discard(asyncio.current_task())
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except (Exception, asyncio.TimeoutError):
                writer.transport.abort()  # never keep a socket and its buffer for a stuck peer

    async def _flush(self, writer):
        try:
            await asyncio.wait_for(writer.drain(), self.limits.send_timeout)
        except (Exception, asyncio.TimeoutError):
            writer.transport.abort()

    async def _one(self, reader, writer):
        lim = self.limits
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), lim.header_timeout)
        except asyncio.TimeoutError:
            raise Refused(408, "request", f"the request headers did not arrive within "
                          f"{lim.header_timeout:g} s (BAYESREG_FRONT_HEADER_TIMEOUT)") from None
        except asyncio.LimitOverrunError:
            raise Refused(431, "headers", f"request headers exceed {lim.max_header} bytes") from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise Refused(400, "request", "the connection closed inside the headers") from None
            raise
        line, headers = _parse_head(head)
        held = [0]  # bytes of this request's body counted in self.buffered
        start, status = time.perf_counter(), "-"
        try:
            body = await self._body(reader, writer, headers, held)
            status = await self._forward(line, headers, body, writer)
        except Refused as exc:
            status = exc.status
            raise
        finally:
            self.buffered -= held[0]
            # one line per request: method, target, status, time
            method, target = line.split(" ")[:2]
            log.info("%s %s %s %.1f ms", method, target[:200], status,
                     1000 * (time.perf_counter() - start))

    async def _body(self, reader, writer, headers, held):
        lim = self.limits
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if "transfer-encoding" in headers and not chunked:
            raise Refused(501, "Transfer-Encoding", "only chunked is supported")
        length = 0
        if not chunked and "content-length" in headers:
            text = headers["content-length"]
            if not (text.isascii() and text.isdigit()):
                raise Refused(400, "Content-Length", f"must be a byte count; got {text[:40]!r}")
            length = int(text)
            self._reserve(length, held)
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        read = self._read_chunked(reader, held) if chunked else reader.readexactly(length)
        try:
            return await asyncio.wait_for(read, lim.body_timeout)
        except asyncio.TimeoutError:
            raise Refused(408, "body", f"the request body did not arrive within "
                          f"{lim.body_timeout:g} s (BAYESREG_FRONT_BODY_TIMEOUT)") from None
        except asyncio.LimitOverrunError:
            raise Refused(400, "body", "malformed chunked encoding (a line too long)") from None

    def _reserve(self, total, held):
        """Count this request's body as ``total`` bytes against the caps, before reading it."""
        lim = self.limits
        if total > lim.max_body:
            raise Refused(413, "body", f"request body exceeds the cap of {lim.max_body} bytes "
                          f"(BAYESREG_MAX_CONTENT_LENGTH)")
        if self.buffered - held[0] + total > lim.max_buffered:
            raise Refused(503, "body", "the server is holding as many request bodies as it "
                          f"may ({lim.max_buffered} bytes, BAYESREG_FRONT_MAX_BUFFERED); retry "
                          "later", lim.retry_after)
        self.buffered += total - held[0]
        held[0] = total

    async def _read_chunked(self, reader, held):
        parts, total = [], 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            text = size_line.split(b";")[0].strip()
            if not text or len(text) > 16 or text.strip(b"0123456789abcdefABCDEF"):
                raise Refused(400, "body", "malformed chunked encoding")
            size = int(text, 16)
            total += size
            self._reserve(total, held)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers are dropped
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise Refused(400, "body", "malformed chunked encoding")

    async def _forward(self, line, headers, body, writer):
        lim = self.limits
        restarting = Refused(503, "server", "the HTTP workers are restarting; retry shortly",
                             lim.retry_after)
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream, limit=1 << 20)
        except (OSError, ValueError):
            raise restarting from None
        try:
            out = [line] + [f"{k}: {v}" for k, v in headers.items() if k not in _DROP]
            if body or line.split(" ", 1)[0] in ("POST", "PUT", "PATCH"):
                out.append(f"Content-Length: {len(body)}")
            out.append("Connection: close")
            try:
                up_writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
                await asyncio.wait_for(up_writer.drain(), lim.upstream_timeout)
            except (OSError, asyncio.TimeoutError):
                raise restarting from None
            del body
            first = True
            while True:
                try:
                    chunk = await asyncio.wait_for(up_reader.read(1 << 16), lim.upstream_timeout)
                except (OSError, asyncio.TimeoutError):
                    if first:
                        raise Refused(503, "server", f"no answer from the HTTP workers (within "
                                      f"{lim.upstream_timeout:g} s); retry later",
                                      lim.retry_after) from None
                    writer.transport.abort()  # half an answer: the client must not take it as whole
                    return
                if not chunk:
                    break
                if first and not chunk.startswith(b"HTTP/"):
                    break
                if first:
                    status = chunk[9:12].decode("latin-1")
                first = False
                writer.write(chunk)
                if writer.transport.get_write_buffer_size() > lim.high_water:
                    await asyncio.wait_for(writer.drain(), lim.send_timeout)
            if first:
                raise Refused(503, "server", "the HTTP worker closed the connection without an "
                              "answer (restarting?); retry", lim.retry_after)
            self.served += 1
            await self._flush(writer)
            return status
        finally:
            up_writer.close()


def _parse_head(head):
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # latin-1 decodes every byte; kept for clarity
        raise Refused(400, "request", "undecodable request head") from None
    lines = text.split("\r\n")
    line = lines[0]
    # gunicorn's own limits (limit_request_line, _fields, _field_size) would answer with an
    # HTML page; refuse here with a problem document instead
    if len(line) > 4094:
        raise Refused(431, "request", "the request line exceeds 4094 bytes")
    if len(lines) - 2 > 100:
        raise Refused(431, "headers", f"{len(lines) - 2} header lines; at most 100 allowed")
    if any(len(raw) > 8190 for raw in lines[1:]):
        raise Refused(431, "headers", "a header line exceeds 8190 bytes")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise Refused(400, "request", f"malformed request line {line[:60]!r}")
    headers = {}
    for raw in lines[1:]:
        if not raw:
            continue
        name, sep, value = raw.partition(":")
        if not sep or not name or name != name.strip():
            raise Refused(400, "headers", f"malformed header line {raw[:60]!r}")
        key = name.lower()
        value = value.strip()
        if any(c in value for c in "\r\n\0") or any(c in name for c in " \t\r\n\0"):
            raise Refused(400, "headers", f"malformed header line {raw[:60]!r}")
        if key == "content-length" and key in headers and headers[key] != value:
            raise Refused(400, "Content-Length", "given twice with different values")
        headers[key] = value if key not in headers or key == "content-length" \
            else f"{headers[key]}, {value}"
    return line, headers
