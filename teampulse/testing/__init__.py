"""teampulse.testing: the kit for testing teampulse plugins (docs/testing.md).

Part of the public plugin API. Importing it needs no pytest; its pytest plugin (the pytest11
entry point "teampulse-testing") adds the fixtures teampulse_now, teampulse_teams, teampulse_context,
teampulse_collect and teampulse_register, and the contract suites need it.

- RecordingContext: a CollectContext at a fixed time that keeps problems and progress messages.
- collect(), collect_cycles() and Run: collect as the core does and keep what came out.
- stored(): put runs into a real store through the core's pseudonymiser and read the rows back.
- registered(): install a plugin into the core's plugin manager for one test.
- free_port(), port_open(), wait_for_port(), wait_until(): servers and polling.
- SourceContract, WebhookContract, ConfigContract: the contract suites, by subclassing.
- check_batches(), check_events(), check_cursor_order(), check_messages(), find_personal(): their checks.
"""

from .checks import check_batches, check_cursor_order, check_events, check_messages, find_personal
from .context import DEFAULT_HISTORY, NOW, TEAMS, RecordingContext
from .contract import ConfigContract, SourceContract, WebhookContract
from .polling import wait_until
from .ports import free_port, port_open, wait_for_port
from .registration import registered
from .running import Run, collect, collect_cycles
from .stored import stored

__all__ = [
    "DEFAULT_HISTORY",
    "NOW",
    "TEAMS",
    "ConfigContract",
    "RecordingContext",
    "Run",
    "SourceContract",
    "WebhookContract",
    "check_batches",
    "check_cursor_order",
    "check_events",
    "check_messages",
    "collect",
    "collect_cycles",
    "find_personal",
    "free_port",
    "port_open",
    "registered",
    "stored",
    "wait_for_port",
    "wait_until",
]
