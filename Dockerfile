# vts, the vts client and the vts operator in one image.
#   docker build -t vts:0.1.0 .          (from the repository root)
#   docker run -p 8000:8000 vts:0.1.0     (SQLite in the /data volume, in-process Redis stand-in)
# The same image runs `vts serve`, `vts migrate` and `kopf run -m vts_operator.handlers` (the Helm chart does all three).
# Everything runs as uid 10001 and writes only to /data (SQLite, a volume) and /tmp, so a read-only root
# filesystem works.

FROM python:3.11-slim AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv

# 1. Third-party dependencies only, read from the three pyproject.toml files: this layer is rebuilt only when
#    a dependency list changes, not on every source edit. The three local distributions are left out.
COPY pyproject.toml ./
COPY client/pyproject.toml client/
COPY operator/pyproject.toml operator/
RUN python -c 'import re, tomllib; \
local = {"vts", "vts-client", "vts-operator"}; \
wanted = {"pyproject.toml": ["postgres"], "client/pyproject.toml": ["cli"], "operator/pyproject.toml": []}; \
projects = {path: tomllib.load(open(path, "rb"))["project"] for path in wanted}; \
reqs = [r for path, extras in wanted.items() \
        for r in projects[path].get("dependencies", []) \
        + [x for extra in extras for x in projects[path]["optional-dependencies"][extra]]]; \
name = lambda r: re.split(r"[^A-Za-z0-9._-]", r, maxsplit=1)[0].lower().replace("_", "-"); \
print("\n".join(r for r in reqs if name(r) not in local))' > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# 2. The source, installed without dependencies (they are all in the layer above); `pip check` fails the
#    build if one is missing.
COPY README.md ./
COPY vts/ vts/
COPY client/ client/
COPY operator/ operator/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . ./client ./operator \
 && /opt/venv/bin/pip check


FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    VTS_HOST=0.0.0.0 \
    VTS_DATABASE_URL=sqlite:////data/vts.db

# A fixed uid/gid (10001) that the Helm chart's runAsUser and fsGroup match. /data holds the default SQLite
# file: mount a volume there (the image declares one) or point VTS_DATABASE_URL at Postgres.
RUN groupadd --system --gid 10001 vts \
 && useradd --system --uid 10001 --gid vts --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin vts \
 && mkdir /data \
 && chown vts:vts /data

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

CMD ["vts", "serve", "--host", "0.0.0.0"]
