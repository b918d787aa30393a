"""Python websockets (target/py-venv) echo server for gen.py: logs, one JSON line per event on
stdout, the request target it parsed and every message it received and sent.

    python wsserver.py PORT
"""
import asyncio
import json
import sys

from websockets.asyncio.server import serve


def log(**o):
    print(json.dumps(o), flush=True)


def process_request(connection, request):
    log(event="request", client="%s:%d" % connection.remote_address[:2],
        path=request.path, path_bytes=list(request.path.encode("utf-8", "surrogateescape")))
    return None


async def echo(ws):
    client = "%s:%d" % ws.remote_address[:2]
    log(event="open", client=client, path=ws.request.path)
    async for msg in ws:
        binary = isinstance(msg, bytes)
        n = len(msg if binary else msg.encode())
        log(event="message", client=client, dir="c2s", binary=binary, len=n)
        await ws.send(msg)
        log(event="message", client=client, dir="s2c", binary=binary, len=n)
    log(event="close", client=client, code=ws.close_code, reason=ws.close_reason)


async def main(port):
    async with serve(echo, "127.0.0.1", port, compression=None, process_request=process_request):
        log(event="listening", port=port)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
