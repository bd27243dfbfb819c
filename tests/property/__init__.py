"""Property-based tests: any input gives a clear user message or a typed state, never an unhandled exception."""
