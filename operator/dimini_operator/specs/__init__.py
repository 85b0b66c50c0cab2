"""Pure functions: a defaulted DiminiStack spec in, desired Kubernetes manifests (dicts) out.

Nothing here talks to the API server; the handlers feed in what they observed.
"""
