"""Every worker kind and its settings class: the environment contract, listed once."""

from __future__ import annotations

from .bots.settings import BotSettings
from .clusters.settings import ClustersSettings
from .gate.settings import GateSettings
from .governor.settings import GovernorSettings
from .intel.settings import IntelSettings
from .runtime.settings import RuntimeSettings

SETTINGS: dict[str, type[RuntimeSettings]] = {
    cls.kind: cls
    for cls in (ClustersSettings, GateSettings, GovernorSettings, IntelSettings, BotSettings)
}
