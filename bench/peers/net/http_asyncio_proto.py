"""HTTP/1.1 hello-world keep-alive server on an asyncio Protocol.

usage: /usr/bin/python3 http_asyncio_proto.py PORT [--uvloop]
Parses nothing: counts request terminators (CRLF CRLF), also across reads and for pipelined
requests, and writes one fixed response per terminator.
"""
import asyncio
import sys

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
            b"Hello, World!")
TERM = b"\r\n\r\n"


class Hello(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.tail = b""

    # Backpressure: stop reading while the transport's write buffer is above its high mark.
    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def data_received(self, data):
        buf = self.tail + data if self.tail else data
        n = buf.count(TERM)
        if buf.endswith(TERM):
            self.tail = b""
        else:
            # Keep a terminator split across reads, but never reuse bytes of a counted one.
            last = buf.rfind(TERM)
            self.tail = buf[max(last + 4 if last >= 0 else 0, len(buf) - 3):]
        if n:
            self.transport.write(RESPONSE * n if n > 1 else RESPONSE)


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Hello, "127.0.0.1", port)
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
