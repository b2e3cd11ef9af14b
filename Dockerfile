# licence-bot: slim image, non-root, the embedded OCR engine's models come inside the installed wheel.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install . && useradd --create-home --uid 10001 licence-bot && mkdir /data && chown licence-bot /data

USER licence-bot
WORKDIR /data
# The session log and config.toml live in /data (mount a volume there).
VOLUME ["/data"]

# check-config loads the config and builds every vendor in the chains: it fails when the bot could not start.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["licence-bot", "check-config"]

CMD ["licence-bot", "serve"]
