"""P3.5 decision intelligence: execution-result analytics and drift alerts (P3.5.1).

Modules: :mod:`.buckets` (key layout and windows), :mod:`.tally` (one batch's counts
and the exactly-once commit script), :mod:`.alerts` (pure alert decision),
:mod:`.queries` and :mod:`.tables` (report A-E), :mod:`.actions` (seed 003's
action-mapping guide), :mod:`.store` (Redis I/O), :mod:`.worker` and :mod:`.report`
(the two shells). The result entry bots write is :mod:`..wire.result`.

Redis names: the worker reads ``<prefix>:stream:apply.result`` in the group
``p35_decision_intel``; buckets live under ``<prefix>:p35:bucket:*`` (24 h after
they close, ``TS_BUCKET_TTL_SECONDS``), status in ``<prefix>:p35:status``. Alerts go
to ``<prefix>:p35:alerts``, seed 003's name, which the consumers written to the seed
(Governor UI, Discord bot, AI engine) read, although every other stream here is
``<prefix>:stream:*``.
"""
