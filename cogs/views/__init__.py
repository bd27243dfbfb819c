"""Discord views: the buttons under results, and the moderators' queue actions."""
