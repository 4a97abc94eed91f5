"""Store a source's batches as the core does (pseudonymised, in a real store) and read every row back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from teampulse.model import Batch

from .running import Run

__all__ = ["KEY", "StoredRows", "stored"]

KEY = b"teampulse-testing-key-0123456789"  # the pseudonym key of the kit's stores
StoredRows = dict[str, list[tuple[Any, ...]]]


def stored(*runs: Run | Sequence[Batch], source: str = "source", key: bytes = KEY) -> StoredRows:
    """Apply the runs' batches in order to a fresh store, through the core's pseudonymiser.

    Returns every table's rows (the cursors table included), each table's rows in a fixed
    order, so two histories that leave the same store compare equal. A batch the store
    refuses raises, as it would make the core's collection fail.
    """
    # Imported here: importing the kit (pytest loads it at start-up) does not open the store's modules.
    from teampulse.collect import Pseudonymise
    from teampulse.pseudonym import Pseudonymiser
    from teampulse.store import Store

    scrub = Pseudonymise(Pseudonymiser(key))
    with Store(":memory:") as store:
        for run in runs:
            batches: Iterable[Batch] = run.batches if isinstance(run, Run) else run
            for batch in batches:
                store.apply_batch(source, [scrub(ev) for ev in batch.events], batch.cursor, 0.0)
        with store.transaction() as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {
                table: sorted((tuple(row) for row in db.execute(f'SELECT * FROM "{table}"')), key=repr)
                for table in sorted(tables)
            }
