# MGI service image: gunicorn + Flask on python:3.11-slim, running as an unprivileged user.
#   docker build -t mgi-service .        (or: docker-compose build)
# Behind a hospital registry or package mirror (nothing here needs Docker Hub's dockerfile frontend):
#   docker build --build-arg PYTHON_IMAGE=registry.example/python:3.11-slim \
#                --build-arg PIP_INDEX_URL=https://mirror.example/simple -t mgi-service .
# Never put credentials in build args: they show in `docker history`.
# Pin the base image by digest for a reproducible, tamper-evident build (docs/deployment.md):
#   docker pull python:3.11-slim && docker image inspect --format '{{index .RepoDigests 0}}' python:3.11-slim
#   docker build --build-arg PYTHON_DIGEST=sha256:<64 hex digits> -t mgi-service .
# With PYTHON_DIGEST set, FROM is python:3.11-slim@sha256:...: the registry must serve exactly that image.
ARG PYTHON_IMAGE=python:3.11-slim
ARG PYTHON_DIGEST=

# ---- build stage: turn the project into a wheel (build tools never reach the runtime image)
FROM ${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST} AS build
# pip reads these from the environment of each RUN; unset unless given with --build-arg.
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Build tools pinned by version and hash (scripts/lock_requirements.py writes the lock).
COPY requirements-build.lock ./
RUN pip install --require-hashes -r requirements-build.lock
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

# ---- runtime stage
FROM ${PYTHON_IMAGE}${PYTHON_DIGEST:+@}${PYTHON_DIGEST}
ARG PIP_INDEX_URL
ARG PIP_TRUSTED_HOST
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MGI_BIND=0.0.0.0:8000

# Unprivileged user, fixed ids so volume and tmpfs permissions are predictable.
RUN groupadd --system --gid 10001 mgi \
 && useradd --system --uid 10001 --gid mgi --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin mgi

WORKDIR /app
# Exact pins of the runtime dependencies, each with the sha256 of its files: --require-hashes
# refuses any file whose hash is not in the lock, and --no-deps lets nothing unpinned slip in;
# pip check then proves the pinned set is complete and consistent.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels && pip check
COPY gunicorn.conf.py ./

USER 10001:10001
EXPOSE 8000
# Liveness for plain `docker run` (on the port of MGI_BIND); docker-compose.yml declares the same check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('MGI_BIND', ':8000').rsplit(':', 1)[-1]; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
