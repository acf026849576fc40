# Outreach Hub: `hub serve` with its state on a volume (or on PostgreSQL: see compose.yaml).
#   docker build -t outreach-hub .
#   docker run -p 8000:8000 -v hub-data:/data --env-file .env outreach-hub
# Dependencies come from requirements.lock (every package pinned, with hashes; `make lock`
# regenerates it from pyproject.toml), so two builds of one commit install the same code.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HUB_DATA_DIR=/data \
    HUB_HOST=0.0.0.0 \
    HUB_PORT=8000

WORKDIR /app
# The pinned dependencies first, in their own layer: a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY webhooks ./webhooks
COPY sheets ./sheets
COPY scenarios ./scenarios
# --no-deps: the hub itself only; anything not in the lock file would fail the build below.
RUN pip install --no-cache-dir --no-deps . && pip check \
    && useradd --system --uid 10001 hub && mkdir -p /data && chown hub /data

USER hub
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HUB_PORT\",\"8000\")}/healthz', timeout=4)"
CMD ["hub", "serve"]
