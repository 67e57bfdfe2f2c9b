# The dataprocessor code image: dagster-webserver, dagster-daemon and the Celery workers all
# run it (docker-compose.yml). GPU workers get the GPU from the compose reservation; the
# models they serve through Triton live in the Triton container, not here.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/opt/dagster/home \
    OPENBLAS_NUM_THREADS=1

# ffmpeg: `dp doctor` and the sidecar tools; curl: container healthchecks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg curl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dataprocessor
# The runtime packages only: the offline model tooling (dp_tools/, the `[tools]` extra) stays
# out of the image, so `dp models stand-in | prepare | ...` say `pip install .[tools]` here.
COPY pyproject.toml README.md ./
COPY requirements/ requirements/
COPY dp_core/ dp_core/
COPY dp_features/ dp_features/
COPY dp_resources/ dp_resources/
COPY io_managers/ io_managers/
COPY dp_assets/ dp_assets/
COPY dp_cli/ dp_cli/
COPY profiles/ profiles/
COPY workspace.yaml ./
RUN pip install . \
    && pip install --no-deps -r requirements/models-nodeps.txt

# The production instance config (PostgreSQL, run queue, GPU pool); secrets come from env.
RUN mkdir -p "$DAGSTER_HOME"
COPY deploy/dagster.prod.yaml /opt/dagster/home/dagster.yaml

# Unprivileged at run time.
RUN useradd --system --uid 10001 --home-dir /opt/dagster dp \
    && chown -R dp /opt/dagster
USER dp

EXPOSE 3000 8081
CMD ["dp", "worker", "--queues", "cpu"]
