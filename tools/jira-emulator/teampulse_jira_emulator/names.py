"""Name pools for generated people (fictional combinations; e-mails live under demo.example)."""

from __future__ import annotations

import unicodedata

FIRST_NAMES = (
    "Maria", "Bob", "Chen", "Aisha", "Lukas", "Sofia", "Mateo", "Priya", "Jonas", "Amara",
    "Hiroshi", "Elena", "Tomasz", "Fatima", "Noah", "Ingrid", "Kwame", "Lucía", "Oskar", "Mei",
    "Rafael", "Zainab", "Henrik", "Yuki", "Camille", "Dmitri", "Leila", "Pedro", "Anika", "Samuel",
    "Chiara", "Ravi", "Greta", "Omar", "Hannah", "Tariq", "Julia", "Kenji", "Nadia", "Felix",
    "Ana", "Emeka", "Freya", "Javier", "Sara", "Arjun", "Clara", "Malik", "Emma", "Diego",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "Okafor", "Wang", "Rahman", "Novak", "Rossi", "García", "Sharma", "Berg", "Mensah",
    "Tanaka", "Popescu", "Kowalski", "Haddad", "Murphy", "Larsen", "Boateng", "Fernández", "Lindqvist",
    "Zhang", "Costa", "Yusuf", "Johansson", "Sato", "Dubois", "Ivanov", "Karimi", "Silva", "Weber",
    "Adeyemi", "Bianchi", "Iyer", "Hoffmann", "Farouk", "Keller", "Nakamura", "Moreau", "Petrov",
    "Ortiz", "Jensen", "Nowak", "Eze", "Andersen", "Romero", "Lopes", "Mehta", "Fischer", "Diallo",
    "Kim", "Álvarez",
)  # fmt: skip

VERBS = ("Add", "Fix", "Refactor", "Migrate", "Document", "Speed up", "Harden", "Remove", "Test", "Review")
OBJECTS = (
    "retry logic in the {c} client", "flaky test in {c}", "{c} dashboard", "{c} error handling",
    "logging in {c}", "{c} schema migration", "on-call runbook for {c}", "{c} API pagination",
    "feature flag for {c}", "{c} configuration defaults", "metrics for {c}", "{c} release checklist",
)  # fmt: skip
COMPONENTS = (
    "checkout", "ledger", "invoices", "auth", "search index", "notifications", "billing", "mobile app",
    "data pipeline", "deploy tooling", "webhooks", "reporting", "cache", "gateway", "scheduler",
)  # fmt: skip


def ascii_slug(text: str) -> str:
    """Return a lower-case ASCII form of a name for an e-mail local part (García -> garcia)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
