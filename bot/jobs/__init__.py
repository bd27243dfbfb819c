"""The job core: what happens to a job from request to delivery, whatever the chat platform and store.

It talks to the world through ports (``ports``: the store and the notifier; ``provider``: the video
provider) and imports no face, no store implementation and no provider client.
"""
