"""HTTP layer: dependencies, error mapping and thin routes over app.services."""
