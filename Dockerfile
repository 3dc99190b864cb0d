# syntax=docker/dockerfile:1
# One image for every service and the gateway; the Kubernetes manifests choose which one runs
# through the container command (`uvicorn --factory services.<name>.app:create_app ...`,
# `python -m shared.migrate <name>` for migrations). Build: `docker build -t wijkaanpak .`
#
# Dependencies: the versions come from requirements.lock (the project's single lock). Only the
# runtime part is installed: requirements.in minus the test and lint tools listed in DEV_ONLY,
# constrained by the lock, so the image gets exactly the locked versions and no pytest, mypy,
# ruff or testcontainers. A new runtime dependency in requirements.in is picked up as it is.
# Wheels only (--only-binary): no compiler is needed in either stage.

ARG PYTHON_IMAGE=python:3.11-slim-trixie

# ---------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
ARG DEV_ONLY="hypothesis|pytest|pytest-asyncio|pytest-timeout|testcontainers|ruff|mypy|asyncpg-stubs|kubernetes-validate|types-[a-z0-9-]+|asgi-lifespan|aiosmtpd"
WORKDIR /src
COPY requirements.in requirements.lock ./
RUN set -eu; \
    grep -v -i -E "^(${DEV_ONLY})([[<>=~!; ].*)?$" requirements.in | grep -v -E '^[[:space:]]*(#|$)' > requirements.runtime.in; \
    python -m venv /opt/venv; \
    /opt/venv/bin/pip install --only-binary=:all: -r requirements.runtime.in -c requirements.lock; \
    /opt/venv/bin/pip check; \
    /opt/venv/bin/pip uninstall -y pip setuptools
COPY shared ./app/shared
COPY services ./app/services
COPY gateway ./app/gateway
# Bytecode now: the root file system is read-only at run time.
RUN python -m compileall -q --invalidation-mode unchecked-hash /src/app /opt/venv/lib

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="wijkaanpak" \
      org.opencontainers.image.description="Wijkaanpak platform: signals, partners, goals, notifications and the GraphQL gateway"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# A fixed non-root uid/gid (10001) that the Kubernetes securityContext names too; the system
# pip goes, so nothing in the image can install packages at run time.
RUN set -eu; \
    groupadd --system --gid 10001 wijkaanpak; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin wijkaanpak; \
    python -m pip uninstall -y --root-user-action=ignore pip setuptools wheel >/dev/null 2>&1 || true
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8080
CMD ["uvicorn", "--factory", "gateway.app:create_app", "--host", "0.0.0.0", "--port", "8080"]
