"""Dimini operator: reconciles a DiminiStack custom resource into a running Dimini installation."""

__version__ = "0.1.0"
