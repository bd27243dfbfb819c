"""Fake CometAPI video API on 127.0.0.1, scripted per task."""
