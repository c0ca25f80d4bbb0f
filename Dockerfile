# davbind server image: `docker build -t davbind .`, then
# `docker run -p 8080:8080 -v davbind-data:/data davbind`.
# Listening on 0.0.0.0 means anonymous writes are refused (see README, Security defaults).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install . && rm -rf /build

RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin davbind \
    && mkdir -p /data && chown davbind:davbind /data

USER davbind
WORKDIR /data
VOLUME /data
EXPOSE 8080

CMD ["davbind", "serve", "--host", "0.0.0.0", "--data", "/data"]
