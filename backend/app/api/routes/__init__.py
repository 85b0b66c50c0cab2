"""Thin HTTP routes; each one validates, calls a service and shapes the response."""
