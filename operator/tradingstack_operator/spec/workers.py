"""The four pipeline workers, each with its tunables from the seeds and their bounds."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from tradingstack_workers.clusters.settings import MIN_CORRELATION_THRESHOLD

from .base import Resources, WireModel, resources

_THRESHOLD_FLOOR = f"must be at least {MIN_CORRELATION_THRESHOLD}"


def _threshold_floor(value: float) -> float:
    if value < MIN_CORRELATION_THRESHOLD:
        raise ValueError(_THRESHOLD_FLOOR)
    return value


def _worker_resources() -> Resources:
    # The seeds measured about 18 MB resident per worker under a 256 MB systemd cap.
    return resources("50m", "64Mi", "256Mi")


class ClustersWorker(WireModel):
    """P2.7: correlation clusters and ClusterStress from position snapshots."""

    enabled: bool = True
    replicas: int = Field(
        default=1, ge=1, le=1, description="A singleton: one writer of the cluster state."
    )
    resources: Resources = Field(default_factory=_worker_resources)
    lookback_points: int = Field(
        default=360,
        ge=11,
        le=10_080,
        description="Price points kept per symbol (360 at 60 s is 6 h); 11 are needed to start.",
    )
    correlation_threshold: Annotated[float, AfterValidator(_threshold_floor)] = Field(
        default=0.70,
        gt=0,
        le=1,
        description="Symbols correlated at or above this cluster.",
        # The floor is a CEL rule, not a schema minimum: the API server compares an
        # integer value against a fractional minimum truncated (0 passed minimum 0.1).
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self >= {MIN_CORRELATION_THRESHOLD!r}",
                    "messageExpression": f"'{_THRESHOLD_FLOOR}'",
                    "message": _THRESHOLD_FLOOR,
                }
            ]
        },
    )
    interval_seconds: int = Field(default=60, ge=5, le=3600)


class GateStressWeights(WireModel):
    """Weights of the gate's stress: heat * gross/capacity + conc * conc + k * K (README,
    Risk model). They sum to 1 (the stress stays in [0, 1]) and heat weighs at least as
    much as k (else adding to a hedge leg could lower the stress). The defaults reproduce
    seed 001's logged line (heat 1, conc 1, K 0.748 -> stress 0.962)."""

    heat: float = Field(default=0.50, ge=0, le=1, description="Weight of gross over capacity.")
    conc: float = Field(default=0.35, ge=0, le=1, description="Weight of the largest position.")
    k: float = Field(default=0.15, ge=0, le=1, description="Weight of correlation K.")


class GovernorStressWeights(WireModel):
    """Weights of the governor's market stress: heat * portfolio heat + cluster *
    ClusterStress + vol * volatility regime (README, Risk model). They sum to 1. The
    defaults are the old P2.8 service's ALPHA_HEAT, BETA_CLUSTER and GAMMA_VOL."""

    heat: float = Field(default=0.4, ge=0, le=1, description="Weight of the gate's heat.")
    cluster: float = Field(default=0.4, ge=0, le=1, description="Weight of ClusterStress.")
    vol: float = Field(default=0.2, ge=0, le=1, description="Weight of the volatility regime.")


class GateWorker(WireModel):
    """P2.6: permits or denies each trade proposal; scales out on a consumer group."""

    enabled: bool = True
    replicas: int = Field(default=2, ge=1, le=10)
    resources: Resources = Field(default_factory=_worker_resources)
    permit_ttl_seconds: int = Field(
        default=60, ge=5, le=600, description="Lifetime of an issued permit."
    )
    cluster_stale_seconds: int = Field(
        default=120,
        ge=10,
        le=3600,
        description="Cluster state older than this is ignored for the correlation proxy.",
    )
    stress_weights: GateStressWeights = Field(default_factory=GateStressWeights)


class GovernorWorker(WireModel):
    """P2.8: per-symbol risk budgets with a last-known-good cache."""

    enabled: bool = True
    replicas: int = Field(
        default=1, ge=1, le=1, description="A singleton: one writer of the budgets."
    )
    resources: Resources = Field(default_factory=_worker_resources)
    mode: Literal["shadow", "enforce"] = Field(
        default="enforce", description="shadow computes budgets; enforce makes bots obey them."
    )
    interval_seconds: int = Field(default=5, ge=1, le=300)
    staleness_seconds: int = Field(
        default=30, ge=1, le=600, description="Portfolio state older than this is stale."
    )
    lkg_max_age_seconds: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="How long the last-known-good portfolio state may stand in.",
    )
    budget_ttl_seconds: int = Field(default=300, ge=10, le=3600)
    base_risk_pct: float = Field(
        default=2.0, gt=0, le=100, description="Per-symbol budget, percent of equity."
    )
    total_risk_pct: float = Field(
        default=10.0,
        gt=0,
        le=100,
        description="All symbols' budgets together, percent of equity (scaled down to fit).",
    )
    stress_weights: GovernorStressWeights = Field(default_factory=GovernorStressWeights)


class AlertThresholds(WireModel):
    """Share (percent) of one reason in the window that raises each severity."""

    medium: int = Field(default=40, ge=1, le=100)
    high: int = Field(default=60, ge=1, le=100)
    critical: int = Field(default=80, ge=1, le=100)


class IntelWorker(WireModel):
    """P3.5: decision intelligence and drift alerts over execution results."""

    enabled: bool = True
    replicas: int = Field(default=1, ge=1, le=5)
    resources: Resources = Field(default_factory=_worker_resources)
    alert_thresholds: AlertThresholds = Field(default_factory=AlertThresholds)
    alert_window_seconds: int = Field(default=300, ge=60, le=86_400)
    alert_dedup_seconds: int = Field(
        default=300, ge=0, le=86_400, description="At most one alert per reason and window."
    )


class WorkersSpec(WireModel):
    """The pipeline workers; bots are listed separately in spec.bots."""

    clusters: ClustersWorker = Field(default_factory=ClustersWorker)
    gate: GateWorker = Field(default_factory=GateWorker)
    governor: GovernorWorker = Field(default_factory=GovernorWorker)
    intel: IntelWorker = Field(default_factory=IntelWorker)
