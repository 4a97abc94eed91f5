"""A Jira REST emulator (Cloud and Data Center) for the demo, the tests and the benchmarks.

Stdlib only. `Dataset` holds the data, `generate_organisation` and `generate_bulk` fill it,
`EmulatorServer` serves it and `Faults` injects rate limits and failures at run time.
"""

from .dataset import Dataset, DatasetError
from .faults import FaultRule, Faults
from .generate import Organisation, OrgTeam, generate_bulk, generate_organisation
from .jql import JqlError, parse
from .server import Credentials, EmulatorServer, Stats

__all__ = [
    "Credentials",
    "Dataset",
    "DatasetError",
    "EmulatorServer",
    "FaultRule",
    "Faults",
    "JqlError",
    "OrgTeam",
    "Organisation",
    "Stats",
    "generate_bulk",
    "generate_organisation",
    "parse",
]
