"""Cross-cutting concerns: settings, security, logging, database access."""
