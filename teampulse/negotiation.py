"""Read the quality values of an HTTP Accept or Accept-Encoding header (RFC 9110, section 12.4.2)."""

from __future__ import annotations


def qualities(header: str | None) -> dict[str, float]:
    """Return each listed media type or coding, lower-cased, with its highest `q` (1 when not given).

    A `q` that is not a number counts as 0: not acceptable.
    """
    best: dict[str, float] = {}
    for part in (header or "").split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        name = name.lower()
        best[name] = max(best.get(name, 0.0), q)
    return best
