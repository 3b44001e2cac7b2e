"""heat, conc and corr_proxy of a book of signed USD exposures (formulas:
:mod:`.decide`). Pure: no I/O. Apart so that :class:`.book.Book`, which :mod:`.decide`
judges on, computes its heat by the same rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Figures:
    heat: float
    conc: float
    corr_proxy: float
    #: Gross over capacity, not capped (the stress's heat term); 1 when capacity is unknown.
    load: float = 0.0


def figures_of(
    gross: float, net: float, largest: float, equity: float | None, leverage_cap: float
) -> Figures:
    """heat, conc and corr_proxy of a book given by its gross, net and largest |exposure|."""
    if gross <= 0:
        return Figures(0.0, 0.0, 0.0, 0.0)
    if equity is None or not equity > 0:
        return Figures(1.0, 1.0, 1.0, 1.0)
    capacity = equity * leverage_cap
    load = gross / capacity
    conc, corr_proxy = largest / capacity, abs(net) / capacity
    return Figures(min(1.0, load), min(1.0, conc), min(1.0, corr_proxy), load)


def figures(exposures: Mapping[str, float], equity: float | None, leverage_cap: float) -> Figures:
    """heat, conc and corr_proxy of a book of signed USD exposures (:mod:`.decide`)."""
    sizes = [abs(e) for e in exposures.values()]
    net = sum(exposures.values())
    return figures_of(sum(sizes), net, max(sizes, default=0.0), equity, leverage_cap)
