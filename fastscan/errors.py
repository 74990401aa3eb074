"""Typed exceptions: a library never exits, it raises one of these."""

from __future__ import annotations


class FastscanError(Exception):
    """Base of every error fastscan raises on purpose."""


class InputError(FastscanError):
    """An input cannot be opened or read at all (missing, unreadable, unknown format)."""


class SchemaError(FastscanError):
    """A field mapping is invalid, or no known log shape matches the input."""


class StateError(FastscanError):
    """A state directory is locked by another scan, or holds state of another configuration."""


class StateFormatError(ValueError):
    """Bytes that are a fastscan state of another format (written by another version)."""


class ClusterError(FastscanError):
    """The cluster could not finish the scan (a piece kept killing its workers, or no scheduler)."""


class OutputError(FastscanError):
    """An output (report, statistics, reject file, state) cannot be written: a full disk, a
    permission; the message names the path."""
