"""Checksums of model files loaded from installed packages: what we load is what we tested."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


class ModelChecksumError(RuntimeError):
    """Model files on disk differ from the pinned checksum."""


def file_sha256(path: Path) -> str:
    """Hex sha256 of one file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_sha256(root: Path, top_level: Iterable[str]) -> str:
    """One digest over the files under `root` whose first path part is in `top_level`."""
    wanted = set(top_level)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if relative.parts[0] in wanted:
            digest.update(relative.as_posix().encode())
            digest.update(file_sha256(path).encode())
    return digest.hexdigest()


def verify(name: str, actual: str, expected: str) -> None:
    """Raise a clear error when `actual` differs from `expected`."""
    if actual != expected:
        raise ModelChecksumError(
            f"{name}: checksum {actual} does not match the pinned {expected}; "
            "the installed package is not the one this release was tested with"
        )
