"""A WebSocket peer on Python's `websockets` (the asyncio server of its legacy
API: 10.4 on Debian 12; compression on by default), speaking the protocol
described in tests/_helpers/peer_servers.ts.

    python3 -u peer_python_server.py

Listens on 127.0.0.1, port 0, and prints `listening on PORT`; serves TLS when
HYBI_PEER_CERT_FILE and HYBI_PEER_KEY_FILE are set. Runs until killed.
"""

import asyncio
import json
import os
import ssl

from websockets.legacy.server import serve

PEER_PROTOCOLS = ["chat", "superchat"]
FRAGMENTS = ["frag", "men", "ted \u2713"]


def select_subprotocol(offer, _server_protocols):
    """The first protocol of the client's offer that we support (not websockets' default ranking)."""
    return next((p for p in offer if p in PEER_PROTOCOLS), None)


def request_info(ws):
    headers = {}
    for name, value in ws.request_headers.raw_items():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {"path": ws.path, "headers": headers, "protocol": ws.subprotocol or ""}


async def ping_then_report(ws, payload):
    pong = await ws.ping(payload)
    await pong  # resolves when the pong with this payload arrives
    await ws.send("pong:" + payload)


async def handler(ws, _path=None):
    async for message in ws:
        if isinstance(message, bytes):
            await ws.send(message)
        elif message == "fragmented":
            await ws.send(FRAGMENTS)  # an iterable: one frame per item
        elif message == "headers":
            await ws.send(json.dumps(request_info(ws)))
        elif message.startswith("close:"):
            code, _, reason = message[6:].partition(":")
            await ws.close(int(code), reason)
        elif message.startswith("ping:"):
            asyncio.ensure_future(ping_then_report(ws, message[5:]))
        else:
            await ws.send(message)


async def main():
    context = None
    cert, key = os.environ.get("HYBI_PEER_CERT_FILE"), os.environ.get("HYBI_PEER_KEY_FILE")
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=context,
        subprotocols=PEER_PROTOCOLS,
        select_subprotocol=select_subprotocol,
        max_size=2**24,
    ) as server:
        print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


asyncio.run(main())
