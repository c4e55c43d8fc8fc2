"""TCP echo server on asyncio streams: reader.read(65536), writer.write, await drain.

usage: /usr/bin/python3 echo_asyncio_streams.py PORT [--uvloop]
Binds 127.0.0.1:PORT, prints one READY line, runs until killed.
"""
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
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
