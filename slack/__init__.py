"""The Slack face: the same job core, store and limits, in Slack workspaces."""
