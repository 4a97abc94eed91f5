"""Who configured people are in Jira: their ids, learnt once per process with as few requests as can be.

On Cloud, the site's user list (users/search, 1,000 users a request) maps every configured
person whose address Jira shows; only those it leaves unmapped (a hidden address, or a list
the account may not read) are looked up one by one with user/search, as on Data Center.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .client import Transport
from .translate import People

__all__ = ["MAX_USER_PAGES", "USERS_PAGE", "Lookups"]

USERS_PAGE = 1000  # users/search serves at most 1,000 users a request (documented)
MAX_USER_PAGES = 10  # past 10,000 users, looking the remaining people up one by one is cheaper
PEOPLE_PER_PAGE = 10  # a list page is worth reading while it can map this many configured people


class Lookups:
    """What this process asked Jira about people, so no question is asked twice."""

    def __init__(self) -> None:
        self.searched: set[str] = set()  # configured addresses already looked up with user/search
        self.listed = False  # the user list was read (or refused)

    def resolve(self, transport: Transport, cloud: bool, people: People) -> bool:
        """Map the Jira ids of configured people not mapped yet; return whether any was learnt.

        Every team's people, not only the synced team's: who a Jira id is must not depend on
        which team's issues named it first.
        """
        learnt = False
        if cloud and not self.listed:
            learnt = self._list(transport, people)
        known = people.known_emails()
        for email in sorted(people.configured):
            if email in known or email in self.searched:
                continue
            params = {"query": email} if cloud else {"username": email}
            users = transport.get("user search", "user/search", params)
            self.searched.add(email)  # only once answered: a failed cycle asks again
            if not isinstance(users, list):
                continue
            exact = [
                u for u in users if isinstance(u, Mapping) and str(u.get("emailAddress", "")).lower() == email
            ]
            match = (
                exact[0] if exact else users[0] if len(users) == 1 and isinstance(users[0], Mapping) else None
            )
            ident = people.ident(match) if match is not None else None
            if ident is not None and ident not in people.emails:
                people.emails[ident] = email
                learnt = True
        return learnt

    def _list(self, transport: Transport, people: People) -> bool:
        """Read the site's users (Cloud) while it may map configured people; True if any was mapped."""
        unmapped = len(people.configured - people.known_emails())
        pages = min(MAX_USER_PAGES, math.ceil(unmapped / PEOPLE_PER_PAGE))
        before = len(people.emails)
        start = 0
        for _ in range(pages):
            # Reading the list takes the "Browse users and groups" permission: without it, the
            # people are looked up one by one instead.
            users = transport.get(
                "user list",
                "users/search",
                {"startAt": start, "maxResults": USERS_PAGE},
                missing_ok=True,
                forbidden_ok=True,
            )
            if not isinstance(users, list):
                break
            for user in users:
                if isinstance(user, Mapping) and _shows_configured(user, people):
                    people.learn(user)
            start += len(users)
            if len(users) < USERS_PAGE or not people.configured - people.known_emails():
                break
        self.listed = True  # only once answered: a failed cycle reads it again
        return len(people.emails) != before


def _shows_configured(user: Mapping[str, Any], people: People) -> bool:
    email = user.get("emailAddress")
    return isinstance(email, str) and email.strip().lower() in people.configured
