# vts, the vts client and the vts operator in one image.
#   docker build -t vts:0.1.0 .          (from the repository root)
#   docker run -p 8000:8000 vts:0.1.0     (SQLite in the /data volume, in-process Redis stand-in)
# The same image runs `vts serve`, `vts migrate` and `kopf run -m vts_operator.handlers` (the Helm chart does all three).
# Everything runs as uid 10001 and writes only to /data (SQLite, a volume) and /tmp, so a read-only root
# filesystem works. docs/image.md records what the image is and how CI builds and runs it (`tox -e image`).
#
# BASE_IMAGE: any Debian-based image with Python 3.11 as `python3` on the PATH: python:3.11-slim (the default,
# `python3` in /usr/local/bin) or a Debian 12 base with Debian's python3 and python3-venv (`python3` in
# /usr/bin; CI makes one with mmdebstrap). Both stages use it, so the venv's interpreter link stays valid.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build

# WHEELS: a folder of the build context holding a wheel for every line of requirements/image.lock (CI
# downloads them on the host, then the build needs no network). Empty: pip installs from the index.
ARG WHEELS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python3 -m venv /opt/venv

# 1. Third-party dependencies only, pinned with hashes by requirements/image.lock (made from the three
#    pyproject.toml files; tests/unit/test_image_lock.py checks it matches them). This layer is rebuilt only
#    when the lock changes, not on every source edit. The lock also pins the build backend (setuptools,
#    wheel), so step 2 builds the three local distributions without fetching anything.
COPY requirements/ requirements/
RUN set -- ; if [ -n "$WHEELS" ]; then set -- --no-index --find-links "$WHEELS"; fi \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes "$@" -r requirements/image.lock

# 2. The source, installed without dependencies (they are all in the layer above); `pip check` fails the
#    build if one is missing. The build backend is removed afterwards: nothing runs it at run time.
COPY pyproject.toml README.md LICENSE ./
COPY vts/ vts/
COPY client/ client/
COPY operator/ operator/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation . ./client ./operator \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/pip uninstall --yes setuptools wheel


FROM ${BASE_IMAGE}

# OCI labels: VERSION is the vts version (pyproject.toml, the chart's appVersion); SOURCE_URL is where the
# source lives. The project has no published repository address yet: pass yours with --build-arg.
ARG VERSION=0.1.0
ARG SOURCE_URL=https://vts.invalid/source
LABEL org.opencontainers.image.title="vts" \
      org.opencontainers.image.description="vts video translation job service, its client and its operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    VTS_HOST=0.0.0.0 \
    VTS_DATABASE_URL=sqlite:////data/vts.db

# A fixed uid/gid (10001) that the Helm chart's runAsUser and fsGroup match, written straight into
# /etc/passwd and /etc/group: a minimal Debian base has no useradd. /data holds the default SQLite file:
# mount a volume there (the image declares one) or point VTS_DATABASE_URL at Postgres.
RUN echo "vts:x:10001:" >> /etc/group \
 && echo "vts:x:10001:10001:vts:/nonexistent:/usr/sbin/nologin" >> /etc/passwd \
 && mkdir /data \
 && chown 10001:10001 /data

COPY --from=build /opt/venv /opt/venv

# No HEALTHCHECK: the image runs three programs (the API, the migration Job, the operator) with different
# health endpoints, and Kubernetes ignores HEALTHCHECK in favour of the chart's probes. With plain docker,
# add --health-cmd (docs/image.md shows one).
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

CMD ["vts", "serve", "--host", "0.0.0.0"]
