# licence-bot: slim image, non-root, the embedded OCR engine's models come inside the installed wheel.
FROM python:3.11-slim

# The server listens on every interface of the container. Only the host is set here: an environment
# variable overrides config.toml, so [server] port stays the config's to choose (8080 by default).
# Two malloc arenas instead of one per thread: in benchmarks/rush.py (55 photos at once) the peak RSS
# was 478 and 505 MB with it against 549 and 562 MB without, at the same speed.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MALLOC_ARENA_MAX=2 \
    LICENCE_BOT_SERVER__HOST=0.0.0.0

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

# /healthz answers 200 while serving, asked on the configured port. On a stop the port closes before the
# recognitions in flight are drained, so a check then fails to connect: the container is stopping anyway.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; from bot.config import load_config as c; u.urlopen(f'http://127.0.0.1:{c().server.port}/healthz', timeout=4)"]

CMD ["licence-bot", "serve"]
