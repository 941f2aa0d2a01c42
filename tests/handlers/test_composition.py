"""The composition root with flag stores of the caller's: they replace those environments' Redis
stores, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest

from flags import FlagStore, MemoryBackend, MemoryFlagStore
from handlers.composition import build_application
from handlers.config import Secrets, load_config
from tests.configs import write_config


async def test_given_flag_stores_replace_those_environments_stores_only(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    config = load_config(write_config(tmp_path, redis_url, prefix, redis_prefix=prefix))
    backend = MemoryBackend()
    dev, gprd = (MemoryFlagStore(backend, prefix=f"{prefix}{e}:", environment=e) for e in ("dev", "gprd"))
    app = build_application(
        config, Secrets(), embedded_directory=tmp_path / ".chatops", flag_stores={"dev": dev, "production": gprd}
    )
    try:
        assert list(app.stores) == [e.option for e in config.environments]  # in configured order
        assert app.stores["dev"] is dev and app.stores["production"] is gprd
        staging, ops = app.stores["staging"], app.stores["ops"]
        assert isinstance(staging, FlagStore) and staging.backend is ops.backend  # one client per Redis URL
        assert staging.backend is not backend
    finally:
        await app.close()
    with pytest.raises(ValueError, match=r"flag_stores for environments not configured: \['nowhere'\]"):
        build_application(config, Secrets(), embedded_directory=tmp_path / ".chatops", flag_stores={"nowhere": dev})
