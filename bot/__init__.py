"""veo-bot: the runtime and the job domain, free of any chat front-end."""
