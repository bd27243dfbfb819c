"""Fake Discord: REST, gateway and interactions on 127.0.0.1, driven by the real discord.py client."""
