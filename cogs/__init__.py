"""veo-bot's Discord face: slash commands, their replies, and the notifier that posts job results."""
