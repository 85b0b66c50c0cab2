"""kopf handlers and the reconcile loop: read, render (via `specs`), apply, report."""
