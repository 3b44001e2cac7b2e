# One image for the operator and every worker: `tradingstack operator`,
# `tradingstack worker <kind>` (the chart and the renderer set the command).
#   docker build -t ghcr.io/tradingstack/tradingstack:0.1.0 .
# The build stage makes a virtualenv from the wheels on PyPI (numpy and hiredis
# ship manylinux wheels, so no compiler is needed); the final stage gets that
# virtualenv and nothing else: no pip, no setuptools, no compiler, no source tree.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
COPY workers ./workers
RUN python -m venv --without-pip /opt/tradingstack \
    && python -m pip install --no-cache-dir --python /opt/tradingstack/bin/python . \
    && /opt/tradingstack/bin/tradingstack --help >/dev/null

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="tradingstack" \
      org.opencontainers.image.description="TradingStack operator and trading workers (one image)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/tradingstack/tradingstack" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"
# The base image's own pip and setuptools are build tools too: the final image runs only.
RUN python -m pip uninstall --no-cache-dir -y pip setuptools wheel \
    && rm -rf /root/.cache
COPY --from=build /opt/tradingstack /opt/tradingstack
ENV PATH=/opt/tradingstack/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The uid and gid every rendered pod runs as (render/pods.py RUN_AS); the image owns
# nothing the process writes (the pods mount /tmp as an emptyDir).
USER 10001:10001
ENTRYPOINT ["tradingstack"]
CMD ["--help"]
