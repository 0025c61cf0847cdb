# socket-grader in a container, for students on macOS and Windows (no Linux namespaces
# there) and anyone who wants the grader without installing it:
#
#   docker build -t socket-grader .
#   docker run --rm -v "$PWD":/work socket-grader check tcp-echo /work
#
# The grader is installed from its wheel (built in the first stage from this checkout),
# exactly as pip installs it anywhere; the shipped specs are named by their bare names.
# Which sandbox tier a container gives, and the flags for the best one: docs/install.md.

FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY grader ./grader
COPY reference ./reference
COPY specs ./specs
RUN pip wheel --no-deps --no-cache-dir --wheel-dir /dist .

FROM python:3.11-slim-bookworm
# A C compiler and make build students' C programs; Python runs theirs and the references.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev make \
    && rm -rf /var/lib/apt/lists/*
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/socket_grader-*.whl && rm -rf /tmp/dist
WORKDIR /work
ENTRYPOINT ["grader"]
CMD ["--help"]
