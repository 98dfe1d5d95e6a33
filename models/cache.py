"""Where offline build steps (unpacked encoders, training runs) keep their intermediate files.

`SENTIMENT_SERVICE_CACHE_DIR` when set; otherwise `sentiment-service` under the user cache
folder (`$XDG_CACHE_HOME`, default `~/.cache`). One thing here is used at serving time: the
multilingual encoder converted by `sentiment-service prepare-models` (rebuilt when missing).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CACHE_DIR_VARIABLE = "SENTIMENT_SERVICE_CACHE_DIR"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The cache folder (not created here) for the given environment (default: os.environ)."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_VARIABLE):
        return Path(env[CACHE_DIR_VARIABLE]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "sentiment-service"
