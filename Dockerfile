# veggiecron's container image (README.rst, "Run it in a container"). Dockerfile is the same file.
#   podman build --format docker -t veggiecron .     (the OCI format drops HEALTHCHECK)
#   docker build -t veggiecron .
# BASE: any image with python3 (3.11 or later) and its venv module, e.g. a local Debian one.
ARG BASE=python:3.12-slim

# The build stage: the package and its dependencies installed into a virtualenv, which alone is
# copied into the final stage (no sources, no pip cache, no build tools there).
FROM ${BASE} AS build
# An optional mirror of the package index; pip's own default (PyPI) when not given.
ARG PIP_INDEX_URL
RUN python3 -m venv /opt/veggiecron
# The dependencies first: a change to the code alone reuses this layer. The package comes next,
# with its sentry extra, so Seed's SCHEDULER_SENTRY_DSN works in the image as it does outside.
COPY requirements.txt /src/requirements.txt
# The secret `ca` (optional) is a certificate-authority bundle for an index reached through a
# TLS-inspecting proxy: pip verifies with it while it is mounted, and it never enters a layer.
# Without it pip uses its own certificates.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    if [ -z "$PIP_INDEX_URL" ]; then unset PIP_INDEX_URL; fi; \
    /opt/veggiecron/bin/pip install --no-cache-dir --disable-pip-version-check -r /src/requirements.txt
COPY pyproject.toml README.rst /src/
COPY veggiecron /src/veggiecron
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    if [ -z "$PIP_INDEX_URL" ]; then unset PIP_INDEX_URL; fi; \
    /opt/veggiecron/bin/pip install --no-cache-dir --disable-pip-version-check "/src[sentry]"

FROM ${BASE}
# The runtime user, and /data (the database) created and owned by it before VOLUME declares it,
# so a new named volume starts out writable by that user.
RUN groupadd --gid 8118 veggiecron \
    && useradd --uid 8118 --gid veggiecron --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin veggiecron \
    && mkdir -p /data && chown veggiecron:veggiecron /data && chmod 0750 /data
COPY --from=build /opt/veggiecron /opt/veggiecron
# Every setting comes from the environment (README's configuration table), so `-e` overrides any
# of these. The database's default is given under Seed Scheduler's name, SCHEDULER_DATABASE, the
# weakest one: a VEGGIECRON_DATABASE or a SCHEDULER_DATABASE of the user's replaces it (a
# VEGGIECRON_DATABASE here would hide a Seed deployment's SCHEDULER_DATABASE).
# Production refuses the shipped key: give SECRET_KEY or VEGGIECRON_APP__KEY.
ENV PATH=/opt/veggiecron/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VEGGIECRON_APP__ENV=production \
    VEGGIECRON_HOST=0.0.0.0 \
    VEGGIECRON_PORT=8118 \
    SCHEDULER_DATABASE=/data/veggiecron.db
USER veggiecron
WORKDIR /data
VOLUME /data
EXPOSE 8118
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('VEGGIECRON_PORT', '8118'), timeout=4)"]
# Exec form, no shell in between: the server is PID 1 and receives SIGTERM itself (it stops
# cleanly within scheduler.shutdown_grace_seconds; give `docker stop -t` a little more).
ENTRYPOINT ["veggiecron"]
CMD ["serve"]
