"""The performance benchmark: the real job core, store, notifier and discord.py client against the fakes.

Run ``python -m bench --help`` from the checkout; docs/PERFORMANCE.md has the figures and the method.
"""
