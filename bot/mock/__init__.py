"""The mock video provider: small local videos instead of CometAPI, for trying the bot for free."""
