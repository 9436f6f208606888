"""The HTTP surface: FastAPI app, REST routes, WebSocket events, dashboard (imported lazily)."""
