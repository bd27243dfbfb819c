# veo-bot: the same install as the README's Quick start, in a slim image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY db ./db
RUN pip install . && useradd --create-home --uid 10001 veo && mkdir -p /data && chown veo /data

USER veo
# The job store, input images and downloaded videos live on a volume.
ENV DATABASE_URL=sqlite:////data/veo.sqlite3 VEO_DATA_DIR=/data
VOLUME ["/data"]
CMD ["veo-bot", "run"]
