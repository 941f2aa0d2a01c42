"""One OS process of the concurrency test: N concurrent changes to one flag.

Usage: python -m tests.flags.concurrent_writer URL PREFIX WRITER COUNT START_AT
"""

from __future__ import annotations

import asyncio
import sys
import time

from flags import ActorId, AuditInfo, FlagStore, build_change


async def main(url: str, prefix: str, writer: str, count: int, start_at: float) -> None:
    store = FlagStore.from_url(url, prefix=prefix, environment="gstg")
    await store.ping()
    await asyncio.sleep(max(0.0, start_at - time.time()))  # both processes start together

    async def change(i: int) -> None:
        if i % 3 == 0:
            change = build_change(f"{i % 100}.{i % 7}", percentage_of="actors")
        elif i % 3 == 1:
            change = build_change("true", actors=[ActorId(f"User:{writer}-{i}")])
        else:
            change = build_change("false", actors=[ActorId(f"User:{writer}-{i - 1}")])
        await store.apply("contended_flag", change, AuditInfo(who=f"{writer}-{i}"))

    await asyncio.gather(*(change(i) for i in range(count)))
    await store.close()


if __name__ == "__main__":
    url, prefix, writer, count, start_at = sys.argv[1:6]
    asyncio.run(main(url, prefix, writer, int(count), float(start_at)))
