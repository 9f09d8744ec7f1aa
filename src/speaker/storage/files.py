"""Files under the data directory, written atomically and named only by server-made ids."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]{8,64}$")


def check_id(value: str) -> str:
    """The id itself if it is one the server could have made; ValueError otherwise."""
    if not _ID.fullmatch(value):
        raise ValueError(f"not a valid id: {value!r}")
    return value


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries, so a rename into it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Replicas share this directory: a folder younger than this may be another process's upload
# between its publish and its commit, so start-up recovery leaves it alone.
SETTLE_SECONDS = 3600.0


def settled(path: Path) -> bool:
    """True once a path is too old to belong to a write still in progress (on any replica)."""
    try:
        return time.time() - path.stat().st_mtime > SETTLE_SECONDS
    except FileNotFoundError:
        return False


class FileStore:
    """A directory of per-id folders; a folder appears whole (renamed into place) or not at all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)

    def path(self, item_id: str) -> Path:
        """The folder of an id (which need not exist)."""
        return self.root / check_id(item_id)

    def stage(self) -> Path:
        """A fresh private folder to write a new item into before `publish`."""
        return Path(tempfile.mkdtemp(dir=self._staging))

    def publish(self, staged: Path, item_id: str) -> Path:
        """Move a staged folder into place after flushing its files to disk."""
        for child in staged.rglob("*"):
            if child.is_file():
                with child.open("rb") as handle:
                    os.fsync(handle.fileno())
        target = self.path(item_id)
        os.replace(staged, target)
        fsync_dir(self.root)
        return target

    def write(self, item_id: str, name: str, data: bytes) -> Path:
        """Replace one file inside an existing item folder atomically."""
        folder = self.path(item_id)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        target = folder / name
        os.replace(tmp, target)
        return target

    def discard(self, staged: Path) -> None:
        """Remove a staged folder that will not be published."""
        shutil.rmtree(staged, ignore_errors=True)

    def remove(self, item_id: str) -> None:
        """Delete an item's folder."""
        shutil.rmtree(self.path(item_id), ignore_errors=True)

    def ids(self) -> set[str]:
        """Ids of every published folder."""
        return {p.name for p in self.root.iterdir() if p.is_dir() and _ID.fullmatch(p.name)}

    def clear_staging(self) -> None:
        """Drop what a crash left half-written, once no live writer can still own it."""
        for leftover in self._staging.iterdir():
            if settled(leftover):
                shutil.rmtree(leftover, ignore_errors=True)

    def remove_abandoned(self, known: set[str]) -> list[str]:
        """Delete settled folders whose id has no record (a crash before the commit)."""
        abandoned = sorted(i for i in self.ids() - known if settled(self.path(i)))
        for item_id in abandoned:
            self.remove(item_id)
        return abandoned
