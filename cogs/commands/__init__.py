"""The slash commands of the Discord face: /veo, /veo-status, /veo-cancel, /veo-queue and /veo-admin."""
