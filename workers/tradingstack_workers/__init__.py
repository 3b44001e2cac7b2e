"""TradingStack workers: the five worker kinds and the runtime they share."""

#: Every worker kind, each a subpackage with a ``main`` module and a settings class
#: (:data:`.kinds.SETTINGS`). Listed here, where importing it loads nothing else.
WORKER_KINDS = ("clusters", "gate", "governor", "intel", "bots")
