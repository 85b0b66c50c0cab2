"""Dimini API: FastAPI + Socket.IO on Postgres."""

__version__ = "0.1.0"
