"""teampulse: process pressure beside people support, for engineering teams.

The public plugin API is what this module exports (and the modules it names:
teampulse.model, teampulse.kinds, teampulse.errors, teampulse.hookspecs,
teampulse.testing). Everything else is internal and may change.
"""

from .errors import ConfigError, SourceError, TeampulseError, WebhookRejected
from .hookspecs import hookimpl
from .kinds import AlertState, Notifier, NotifierKind, PluginConfig, SignalKind, SourceKind
from .model import (
    ACTION_KINDS,
    Batch,
    Change,
    CollectContext,
    Event,
    LeadershipAction,
    PersonSignal,
    SignalsReplaced,
    Source,
    Sprint,
    StatusCategory,
    TeamInfo,
    WebhookSource,
    WorkItem,
    WorkItemRemoved,
    WorkItemsCovered,
)

__version__ = "0.1.0"

__all__ = [
    "ACTION_KINDS",
    "AlertState",
    "Batch",
    "Change",
    "CollectContext",
    "ConfigError",
    "Event",
    "LeadershipAction",
    "Notifier",
    "NotifierKind",
    "PersonSignal",
    "PluginConfig",
    "SignalKind",
    "SignalsReplaced",
    "Source",
    "SourceError",
    "SourceKind",
    "Sprint",
    "StatusCategory",
    "TeamInfo",
    "TeampulseError",
    "WebhookRejected",
    "WebhookSource",
    "WorkItem",
    "WorkItemRemoved",
    "WorkItemsCovered",
    "__version__",
    "hookimpl",
]
