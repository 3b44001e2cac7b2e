"""P2.7 portfolio clusters: correlation clusters and ClusterStress from position snapshots."""
