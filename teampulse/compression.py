"""Compress a cached body once, then finish it with a few bytes that change per reply.

A scrape's body is the cycle's exposition followed by the cache age, which changes at every
scrape. Compressing megabytes at every scrape would cost more than sending them, so the
exposition is compressed once, ending with a full flush (which leaves no back-reference to
it), and each reply adds the deflate blocks of its own tail and the gzip trailer: one valid
gzip member (RFC 1952), which every client reads, not a concatenation some do not.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .negotiation import qualities

# magic, deflate, no flags, no mtime, no extra flags, OS unknown (RFC 1952, section 2.3)
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_LEVEL = 6


@dataclass(frozen=True)
class GzipPrefix:
    """A body compressed up to a full flush: the gzip header and deflate blocks, and its CRC and size."""

    data: bytes
    crc: int
    size: int


def gzip_prefix(body: bytes) -> GzipPrefix:
    """Compress `body` as the start of a gzip member that `gzip_tail` finishes."""
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = _HEADER + deflate.compress(body) + deflate.flush(zlib.Z_FULL_FLUSH)
    return GzipPrefix(data, zlib.crc32(body), len(body))


def gzip_tail(prefix: GzipPrefix, tail: bytes) -> bytes:
    """Return the bytes that follow `prefix.data` to make the gzip of its body followed by `tail`."""
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    blocks = deflate.compress(tail) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(tail, prefix.crc)
    return blocks + struct.pack("<II", crc & 0xFFFFFFFF, (prefix.size + len(tail)) & 0xFFFFFFFF)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Return whether an Accept-Encoding header accepts gzip (RFC 9110, section 12.5.3)."""
    best = qualities(accept_encoding)
    named = [best[coding] for coding in ("gzip", "x-gzip") if coding in best]
    chosen = max(named) if named else best.get("*")
    return chosen is not None and chosen > 0
