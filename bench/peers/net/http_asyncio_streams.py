"""HTTP/1.1 hello-world keep-alive server on asyncio streams.

usage: /usr/bin/python3 http_asyncio_streams.py PORT [--uvloop]
Parses nothing: counts request terminators (CRLF CRLF), also across reads and for pipelined
requests, and sends one fixed response per terminator.
"""
import asyncio
import sys

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
            b"Hello, World!")
TERM = b"\r\n\r\n"


def count_requests(tail, data):
    """Returns (terminators in tail+data, the bytes to keep for a terminator split across reads)."""
    buf = tail + data if tail else data
    n = buf.count(TERM)
    if buf.endswith(TERM):
        return n, b""
    last = buf.rfind(TERM)
    keep_from = max(last + 4 if last >= 0 else 0, len(buf) - 3)
    return n, buf[keep_from:]


async def handle(reader, writer):
    tail = b""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            n, tail = count_requests(tail, data)
            if n:
                writer.write(RESPONSE * n if n > 1 else RESPONSE)
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("READY", port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    port = int(next(a for a in args if not a.startswith("-")))
    if "--uvloop" in args:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main(port))
