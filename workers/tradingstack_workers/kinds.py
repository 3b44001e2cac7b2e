"""Every worker kind and its settings class: the environment contract, listed once."""

from __future__ import annotations

from . import WORKER_KINDS
from .bots.settings import BotSettings
from .clusters.settings import ClustersSettings
from .gate.settings import GateSettings
from .governor.settings import GovernorSettings
from .intel.settings import IntelSettings
from .runtime.settings import RuntimeSettings

_BY_KIND: dict[str, type[RuntimeSettings]] = {
    cls.kind: cls
    for cls in (ClustersSettings, GateSettings, GovernorSettings, IntelSettings, BotSettings)
}
#: Worker kind -> its settings class, in :data:`WORKER_KINDS` order (a kind without a
#: settings class fails this import).
SETTINGS: dict[str, type[RuntimeSettings]] = {kind: _BY_KIND[kind] for kind in WORKER_KINDS}
