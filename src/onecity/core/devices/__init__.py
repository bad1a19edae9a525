"""Device registry, device credentials, telemetry ingest and queries, liveness."""
