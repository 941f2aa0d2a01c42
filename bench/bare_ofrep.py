"""The floor for bench/ofrep.py: a bare aiohttp handler that reads the request body and answers a
constant JSON body (the flags API's answer to one evaluation, byte for byte), on any POST path.

    python bench/bare_ofrep.py PORT BODY
"""

from __future__ import annotations

import sys

from aiohttp import web


def main() -> None:
    port, body = int(sys.argv[1]), sys.argv[2].encode()

    async def evaluate(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_post("/{path:.*}", evaluate)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
