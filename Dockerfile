# licence-bot: slim image, non-root, the embedded OCR engine's models come inside the installed wheel.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LICENCE_BOT_SERVER__HOST=0.0.0.0 \
    LICENCE_BOT_SERVER__PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install . && useradd --create-home --uid 10001 licence-bot && mkdir /data && chown licence-bot /data

USER licence-bot
# config.toml and the session log (licence-bot.db) live in /data: mount a volume there.
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# /healthz answers 200 while serving and 503 while draining on shutdown.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

CMD ["licence-bot", "serve"]
