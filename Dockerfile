# veo-bot: the same install as the README's Quick start, built in one stage and run from a slim one.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY db ./db
COPY slack ./slack
# The mock extra lets admins try the bot with VEO_PROVIDER=mock for free, the postgres extra lets it use
# DATABASE_URL=postgresql://…, the slack extra runs the Slack face; build with --build-arg EXTRAS= to skip them.
ARG EXTRAS=mock,postgres,slack
RUN /opt/venv/bin/pip install ".${EXTRAS:+[$EXTRAS]}"

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH
RUN groupadd --gid 10001 veo && useradd --create-home --uid 10001 --gid 10001 veo \
    && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
# The job store, input images and delivered videos live on the volume; /healthz and /metrics on port 8080.
ENV DATABASE_URL=sqlite:////data/veo.sqlite3 \
    VEO_DATA_DIR=/data \
    VEO_VIDEO_DIR=/data/videos \
    VEO_HTTP_HOST=0.0.0.0 \
    VEO_HTTP_PORT=8080
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
WORKDIR /data
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "bot.ops.healthcheck"]
CMD ["veo-bot", "run"]
