#!/usr/bin/env python3
"""The container's HEALTHCHECK: GET teampulse's /healthz on loopback, exit 0 if it says ok, else 1.

Standard library only (the image has no curl). Settings, all optional, from the environment:

- TEAMPULSE_HEALTHCHECK_URL: default http://127.0.0.1:9469/healthz; use https://... when the
  web config turns TLS on. The certificate is not verified unless TEAMPULSE_HEALTHCHECK_CA_FILE
  names a CA bundle: this is a liveness probe of a process on loopback, not a client.
- TEAMPULSE_HEALTHCHECK_AUTH_FILE: a file holding `user:password`, when the web config turns
  basic auth on (mount it as a secret, e.g. /run/secrets/healthcheck-auth).

/healthz answers 503 ("starting") until the first collection cycle is done (the image's start
period covers it), then 200 with "ok", or "degraded" when a source failed or skipped input in its
last run. Degraded is still healthy here: a restart fixes neither a bad calendar file nor a Jira
outage (teampulse_source_up and TeampulseSourceDown report those); it is printed.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:9469/healthz"


def check() -> str | None:
    """Return None when teampulse is healthy, else why not (one line)."""
    url = os.environ.get("TEAMPULSE_HEALTHCHECK_URL") or DEFAULT_URL
    request = urllib.request.Request(url)
    auth_file = os.environ.get("TEAMPULSE_HEALTHCHECK_AUTH_FILE")
    if auth_file:
        try:
            with open(auth_file, encoding="utf-8") as f:
                credentials = f.read().strip()
        except OSError as exc:
            return f"TEAMPULSE_HEALTHCHECK_AUTH_FILE cannot be read: {exc.strerror}"
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    context = None
    if url.startswith("https:"):
        ca_file = os.environ.get("TEAMPULSE_HEALTHCHECK_CA_FILE")
        if ca_file:
            context = ssl.create_default_context(cafile=ca_file)
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"{url}: HTTP {exc.code}" + (
            " (set TEAMPULSE_HEALTHCHECK_AUTH_FILE)" if exc.code == 401 else ""
        )
    except (OSError, ValueError) as exc:
        return f"{url}: {exc}"
    status = body.get("status") if isinstance(body, dict) else None
    if status not in ("ok", "degraded"):
        return f"{url}: status {status!r}"
    if status == "degraded":
        failing = sorted(
            name for name, s in body.get("sources", {}).items() if not s.get("up") or s.get("problems")
        )
        print(f"teampulse: degraded (sources: {', '.join(failing) or '?'})")
    return None


def main() -> int:
    problem = check()
    print(problem or "teampulse: healthy", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
