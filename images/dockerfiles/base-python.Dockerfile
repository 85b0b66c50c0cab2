# localhost/dimini/base-python:3.11 — what the project's Dockerfiles need from python:3.11-slim:
# Debian's python3 (3.11) with venv/ensurepip, `python` on PATH, groupadd/useradd (in the base).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python-is-python3 \
 && rm -rf /var/lib/apt/lists/* \
 && python --version
CMD ["python"]
