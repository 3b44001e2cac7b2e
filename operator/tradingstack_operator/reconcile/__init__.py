"""Reconciliation: compare desired children with what the API server holds, then act."""
