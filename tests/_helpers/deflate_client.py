"""A permessage-deflate client on Python's `websockets` package, for
tests/permessage_deflate_python_test.ts.

    python3 deflate_client.py HTTP_BASE WS_URL ROUTE OPTIONS_JSON

Fetches the route's scenario messages from HTTP_BASE/payload/ROUTE/<i>,
connects to WS_URL offering permessage-deflate (websockets' default offer,
or the parameters in OPTIONS_JSON), sends each message (whole, or in
fragments of OPTIONS_JSON["fragment"] bytes), checks that each echo is the
message sent, closes, and prints one JSON line: the extension websockets
agreed to and how many messages came back intact. Exits 1 on any failure.

Works with websockets 10 (Debian 12) to 15: the newer asyncio client when
it exists, else the legacy one.
"""

import asyncio
import json
import sys
import urllib.request

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

try:
    from websockets.asyncio.client import connect  # websockets >= 13

    def extensions_of(ws):
        return ws.protocol.extensions

except ImportError:  # the legacy client (websockets 10-12)
    from websockets import connect

    def extensions_of(ws):
        return ws.extensions


def fetch(base, route):
    messages = []
    i = 0
    count = 1
    while i < count:
        with urllib.request.urlopen(f"{base}/payload/{route}/{i}") as response:
            count = int(response.headers["x-count"])
            data = response.read()
            kind = response.headers["x-kind"]
        messages.append(data.decode("utf-8") if kind == "text" else data)
        i += 1
    return messages


def chunks(message, size):
    for at in range(0, len(message), size):
        yield message[at : at + size]


async def run(base, url, route, options):
    messages = fetch(base, route)
    fragment = options.pop("fragment", 0)
    extensions = None
    if options:
        extensions = [ClientPerMessageDeflateFactory(**options)]
    kwargs = {"max_size": None, "compression": None if extensions else "deflate"}
    if extensions:
        kwargs["extensions"] = extensions
    echoed = 0
    async with connect(url, **kwargs) as ws:
        agreed = [repr(e) for e in extensions_of(ws)]
        for i, message in enumerate(messages):
            if fragment and len(message) > fragment:
                await ws.send(chunks(message, fragment))
            else:
                await ws.send(message)
            echo = await ws.recv()
            if echo != message:
                raise SystemExit(f"message {i}: the echo differs ({len(echo)} vs {len(message)})")
            echoed += 1
    print(json.dumps({"extensions": agreed, "echoed": echoed, "messages": len(messages)}))


if __name__ == "__main__":
    base, url, route, options = sys.argv[1:5]
    asyncio.run(run(base, url, route, json.loads(options)))
