# syntax=docker/dockerfile:1
# MGI service image: gunicorn + Flask on python:3.11-slim, running as an unprivileged user.
#   docker build -t mgi-service .        (or: docker-compose build)

# ---- build stage: turn the project into a wheel (build tools never reach the runtime image)
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN pip install "setuptools==80.9.0" "wheel==0.45.1"
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

# ---- runtime stage
FROM python:3.11-slim
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
# Exact pins of the runtime dependencies; --no-deps so nothing unpinned slips in, then pip check
# proves the pinned set is complete and consistent.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels && pip check
COPY gunicorn.conf.py ./

USER 10001:10001
EXPOSE 8000
# Liveness for plain `docker run`; docker-compose.yml declares the same check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service.wsgi:app"]
