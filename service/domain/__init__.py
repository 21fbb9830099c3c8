"""Framework-free clinical core: units, criteria, risk models, MGCS flags and ``interpret``."""

from .interpret import interpret
from .ruleset import RULESET_VERSION

__all__ = ["interpret", "RULESET_VERSION"]
