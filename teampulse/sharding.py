"""Split the configured teams between instances: `--shard I/N` by a stable hash, or `--teams` by name.

A team's shard is chosen by rendezvous hashing: for each shard i of N, the SHA-256 of the text
"i/NAME" (the team's name as configured, UTF-8); the shard with the highest digest serves the
team. It depends on the name and N alone, so adding or removing a team moves no other team,
and going from N to N+1 shards moves only the teams that now land on the new shard (about one
in N+1): no team moves between the shards that were already there.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Config, Team
from .errors import TeampulseError

try:
    import fcntl
except ImportError:  # not on POSIX: no claim on the store, as documented
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("teampulse")

__all__ = ["Selection", "Shard", "StoreClaim", "TeamElsewhere", "claim_store", "shard_of"]

_SHARD = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")
ALL_TEAMS = "all teams"
SHOWN = 5  # team names a message lists before "and N more"


def _score(index: int, team: str) -> bytes:
    return hashlib.sha256(f"{index}/{team}".encode()).digest()


def shard_of(team: str, shards: int) -> int:
    """Return the shard (1..shards) that serves a team."""
    if shards < 1:
        raise ValueError("the number of shards must be at least 1")
    return max(range(1, shards + 1), key=lambda i: _score(i, team))


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (both from 1)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read "I/N"; raise ValueError saying what is wrong."""
        match = _SHARD.match(text)
        if match is None:
            raise ValueError(f"{text!r}: use I/N, e.g. 1/4 for the first of four shards")
        index, count = int(match[1]), int(match[2])
        if count < 1:
            raise ValueError(f"{text!r}: N must be at least 1")
        if not 1 <= index <= count:
            raise ValueError(f"{text!r}: I must be from 1 to N ({count})")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, team: str) -> bool:
        """Return whether this shard serves the team."""
        return shard_of(team, self.count) == self.index


class TeamElsewhere(TeampulseError, ValueError):
    """A configured team that another instance serves."""


@dataclass(frozen=True)
class Selection:
    """Which configured teams this process serves: all, one hash shard, or a list of names."""

    shard: Shard | None = None
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, shard: str | None, teams: Iterable[str] = ()) -> Selection:
        """Read --shard and --teams (comma-separated, repeatable); raise ValueError."""
        names: list[str] = []
        for value in teams:
            for name in value.split(","):
                name = name.strip()
                if name and name not in names:
                    names.append(name)
        if shard is not None and names:
            raise ValueError("give --shard or --teams, not both")
        if teams and not names:
            raise ValueError("--teams: name at least one team")
        return cls(Shard.parse(shard) if shard is not None else None, tuple(names))

    @property
    def everything(self) -> bool:
        """Return whether every team is served (no selection, or shard 1/1)."""
        return not self.names and (self.shard is None or self.shard.count == 1)

    @property
    def label(self) -> str:
        """Return what is served, in words: "all teams", "shard 1/4", "teams a, b"."""
        if self.names:
            names = sorted(self.names)
            more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
            return "teams " + ", ".join(names[:SHOWN]) + more
        return self.key

    @property
    def key(self) -> str:
        """Return what is served, exactly, for the store's claim."""
        if self.names:
            return "teams " + ",".join(sorted(self.names))
        if self.shard is not None and self.shard.count > 1:
            return f"shard {self.shard}"
        return ALL_TEAMS

    def choose(self, teams: Sequence[Team]) -> tuple[Team, ...]:
        """Return the teams served here, in config order; TeampulseError for an unknown name."""
        if self.names:
            known = {t.name for t in teams}
            unknown = [n for n in self.names if n not in known]
            if unknown:
                listed = ", ".join(repr(n) for n in unknown)
                raise TeampulseError(
                    f"--teams: unknown team {listed} (teams: {', '.join(t.name for t in teams)})"
                )
            return tuple(t for t in teams if t.name in self.names)
        if self.shard is not None:
            return tuple(t for t in teams if self.shard.owns(t.name))
        return tuple(teams)

    def state(self, base: Path) -> Path:
        """Return this selection's store: STEM.shard-I.SUFFIX beside `base` for shard I >= 2, else `base`.

        Shard 1 keeps `base`, so one instance that becomes shard 1 of N keeps its store; a shard
        keeps its file when N changes (a shard's teams under N+1 are a subset of its teams under
        N). A --teams list uses `base`: give each list a config of its own.
        """
        if self.shard is None or self.shard.index == 1:
            return base
        return base.with_name(f"{base.stem}.shard-{self.shard.index}{base.suffix}")

    def apply(self, config: Config) -> Config:
        """Return the config with only the served teams and this selection's store."""
        if self.everything:
            return config
        return replace(config, teams=self.choose(config.teams), state=self.state(config.state))

    def home(self, team: str) -> str:
        """Return where a configured team that is not served here is served, in words."""
        if self.shard is not None and self.shard.count > 1:
            return f"shard {shard_of(team, self.shard.count)}/{self.shard.count}"
        return "another instance"

    def elsewhere(self, team: str) -> TeamElsewhere:
        """Return the error for a configured team another instance serves."""
        return TeamElsewhere(
            f"team {team!r} is served by {self.home(team)}, not by this instance ({self.label}): "
            "send it there"
        )


class StoreClaim:
    """A shared lock on STATE.lock naming the selection that uses the store, held while it is open."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        """Give the claim up (closing the file drops the lock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        # A runtime dropped without close() (a test, a REPL) must not keep its descriptor.
        with contextlib.suppress(OSError):
            self.release()


def claim_store(state: Path, selection: Selection) -> StoreClaim:
    """Claim a store for one selection; TeampulseError while another selection holds it.

    Two processes serving different teams must not share a store: each source keeps one cursor
    per store, and each would move it for its own teams. Processes of the same selection may
    (`serve` and a `check` beside it), as before. The claim is an flock(2) on STATE.lock, so a
    crashed process leaves none behind; where the lock cannot be taken (no flock, a read-only
    folder) nothing is claimed.
    """
    path = state.with_name(state.name + ".lock")
    if fcntl is None or state.name == ":memory:":
        return StoreClaim(path, None)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        log.debug("no claim on %s: %s", state, exc.strerror)
        return StoreClaim(path, None)
    try:
        key = selection.key
        tag = key.encode()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # In use: wait for a newcomer's write to end, then read whose it is.
            fcntl.flock(fd, fcntl.LOCK_SH)
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, tag + b"\n", 0)
            fcntl.flock(fd, fcntl.LOCK_SH)  # not atomic: the check below sees who won
        # The text changes only under LOCK_EX, which no one gets while this LOCK_SH is held.
        holder = os.pread(fd, 1 << 20, 0).decode("utf-8", "replace").strip()
        if holder != key:
            shown = holder if len(holder) <= 80 else holder[:77] + "..."
            raise TeampulseError(
                f"{state}: the store is in use by a teampulse serving {shown or 'other teams'}, and this "
                f"one serves {selection.label}: instances that serve different teams need a store each "
                "(docs/scaling.md)"
            )
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return StoreClaim(path, fd)
