"""Job results on disk: `<data_dir>/jobs/<job_id>/<n>.<attempt>.<ext>`, each file whole or absent.

Replicas share the directory. A result is written to a staging file, flushed, and renamed into
place before the database says the item succeeded, so a succeeded item always has its file.
Each attempt publishes under its own name: a worker that lost its lease (and whose success is
therefore refused) removes only its own file, never the one of the worker that took over.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from speaker.storage.files import check_id, fsync_dir, settled

_RESULT = re.compile(r"^(?P<n>\d+)\.(?P<attempt>\d+)\.(?P<ext>[a-z0-9]+)$")


class ResultFiles:
    """Stage, publish, find and bundle the audio files of job items."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)

    def stage(self, suffix: str = ".part") -> Path:
        """A fresh private file to write a result (or an archive) into."""
        fd, name = tempfile.mkstemp(dir=self._staging, suffix=suffix)
        os.close(fd)
        return Path(name)

    def publish(self, staged: Path, job_id: str, n: int, attempt: int, ext: str) -> str:
        """Flush a staged file and rename it into place; returns its name for the database."""
        with staged.open("rb") as handle:
            os.fsync(handle.fileno())
        folder = self.root / check_id(job_id)
        folder.mkdir(exist_ok=True)
        os.replace(staged, folder / f"{n}.{attempt}.{ext}")
        fsync_dir(folder)
        return f"{job_id}/{n}.{attempt}.{ext}"

    def path(self, result: str) -> Path:
        """The file of a stored result name."""
        job_id, _, name = result.partition("/")
        if not _RESULT.fullmatch(name):
            raise ValueError(f"not a result name: {result!r}")
        return self.root / check_id(job_id) / name

    def remove(self, result: str) -> None:
        """Delete one published result."""
        self.path(result).unlink(missing_ok=True)

    def remove_others(self, job_id: str, n: int, keep: str) -> None:
        """Delete results of earlier attempts at an item (a crash between publish and commit)."""
        kept = self.path(keep)
        for candidate in (self.root / check_id(job_id)).glob(f"{n}.*.*"):
            if candidate != kept and _RESULT.fullmatch(candidate.name):
                candidate.unlink(missing_ok=True)

    def bundle(self, results: Iterable[tuple[str, str]], manifest: str) -> Path:
        """A zip (staged file, caller deletes it) of `(name in zip, result)` pairs plus a manifest.

        Audio is already compressed (or deliberately raw), so entries are stored, not deflated.
        """
        archive_path = self.stage(".zip")
        try:
            with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_STORED) as archive:
                archive.writestr("job.json", manifest)
                for entry, result in results:
                    archive.write(self.path(result), entry)
        except BaseException:
            archive_path.unlink(missing_ok=True)
            raise
        return archive_path

    def clear_staging(self) -> None:
        """Drop staged files a crash left, once no live writer (any replica) can still own them."""
        for leftover in self._staging.iterdir():
            if settled(leftover):
                leftover.unlink(missing_ok=True)
