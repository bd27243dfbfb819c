"""``python -m bot``: the same as the ``veo-bot`` console script."""

from bot.cli import entry

if __name__ == "__main__":
    entry()
