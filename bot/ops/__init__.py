"""Operations: metrics, health, the HTTP server, logs, the event loop and the platform-free doctor checks."""
