"""Request and response bodies of the API (pydantic, camelCase on the wire)."""
