"""The Slack face: the Bolt app, its commands and form, and how jobs are shown in Slack."""
