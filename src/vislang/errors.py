"""The error types vislang raises for bad input.

Every error names what is wrong precisely enough to fix it: the file, the line and the field.
"""

from __future__ import annotations

from pathlib import Path


class VislangError(Exception):
    """Base class of every error vislang raises on purpose."""


class ImageDecodeError(VislangError):
    """An image could not be decoded: truncated, corrupt, empty, not an image, or too large."""

    def __init__(self, source: str | Path, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class DataFormatError(VislangError):
    """A data file is malformed: names the file, the line (1-based, when known) and the field."""

    def __init__(
        self,
        path: str | Path,
        reason: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{reason}")


class ConfigError(VislangError):
    """A configuration file or option is invalid."""
