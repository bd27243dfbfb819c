"""Work on video files themselves: re-encoding to fit an upload limit, reading frames."""
