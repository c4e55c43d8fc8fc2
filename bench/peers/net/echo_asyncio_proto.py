"""TCP echo server on an asyncio Protocol: data_received passes the bytes to transport.write.

usage: /usr/bin/python3 echo_asyncio_proto.py PORT [--uvloop]
Binds 127.0.0.1:PORT, prints one READY line, runs until killed.
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    # Backpressure: stop reading while the transport's write buffer is above its high mark.
    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def data_received(self, data):
        self.transport.write(data)


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port)
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
