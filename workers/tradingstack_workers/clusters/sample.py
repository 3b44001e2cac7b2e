"""How many aligned price points a correlation needs before it may drive risk (stdlib only).

The default minimum is the sample at which a correlation *at the clustering threshold*
is told apart from zero by a two-sided test at 1 % significance with 80 % power.
By Fisher's transform, ``atanh(r)`` is roughly normal with standard error
``1 / sqrt(n - 3)`` for ``n`` returns, so that sample is::

    n = ((z(1 - alpha/2) + z(power)) / atanh(threshold))**2 + 3

For the default threshold 0.70: ``((2.576 + 0.842) / 0.867)**2 + 3 = 18.5``, so 19
returns, i.e. **20 price points** (20 minutes at the 60 s cadence). The seeds'
minimum (10 returns) is too short: there, an independent pair reaches +0.70 by
chance about 1.1 % of the time (0.70 is 2.3 standard errors in Fisher's z), so a
book of 10 symbols (45 pairs) shows a spurious cluster in about 39 % of cycles; at
19 returns that falls to 0.03 % a pair, about 1.2 % a cycle. A lower threshold
needs more points (0.50 needs 43); the floor of 11 points (10 returns) keeps the
variance estimates of the shrinkage step meaningful when the threshold is near 1.
"""

from __future__ import annotations

import math
from statistics import NormalDist

#: Two-sided significance of the test against zero correlation.
ALPHA = 0.01
#: Probability of detecting a pair that truly sits at the threshold.
POWER = 0.80
#: Fewest returns ever accepted (the seeds' 10; the operator's lookback minimum is 11 points).
FLOOR_RETURNS = 10


def min_returns(threshold: float, *, alpha: float = ALPHA, power: float = POWER) -> int:
    """Returns needed for a correlation of ``threshold`` to be told apart from zero."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold} is outside (0, 1]")
    if threshold >= 1:
        return FLOOR_RETURNS
    normal = NormalDist()
    z = normal.inv_cdf(1 - alpha / 2) + normal.inv_cdf(power)
    needed = (z / math.atanh(threshold)) ** 2 + 3
    return max(FLOOR_RETURNS, math.ceil(needed))


def min_points(threshold: float) -> int:
    """Price points needed (one more than returns)."""
    return min_returns(threshold) + 1
