# A Tidings node image on Debian 12 (docs/OPERATIONS.md, "Install", "In a container").
#
#   docker build -t tidings --build-arg TIDINGS_COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run -d --name tidings -p 8080:8080 -v tidings-data:/var/lib/tidings \
#     --stop-timeout 30 tidings
#   docker run --rm tidings --help            # any option after the image name
#
# The build stage installs the Makefile's DEBIAN_PACKAGES (`make deps`: the same packages as
# every other build), builds and runs `make install`. The runtime stage is debian:12-slim with
# only the shared libraries the binaries load (tests/ops/packaging_test.cpp checks this list
# against `ldd` of the built binaries).
#
# .git is not copied (.dockerignore): pass the commit as TIDINGS_COMMIT, or --version says
# "commit unknown".

ARG DEBIAN_RELEASE=12

FROM debian:${DEBIAN_RELEASE} AS build
ARG TIDINGS_COMMIT=unknown
ENV TIDINGS_COMMIT=${TIDINGS_COMMIT}
WORKDIR /src
COPY Makefile ./
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make \
 && make deps \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make build BUILD_DIR=/build \
 && make install BUILD_DIR=/build PREFIX=/usr/local DESTDIR=/out

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 libsodium23 libssl3 libexpat1 \
      libsnappy1v5 liblz4-1 libzstd1 libbz2-1.0 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/tidings --shell /usr/sbin/nologin tidings \
 && install -d -o tidings -g tidings -m 0750 /var/lib/tidings
COPY --from=build /out/usr/local/ /usr/local/
COPY --from=build /out/usr/local/share/tidings/tidings.ini /etc/tidings/tidings.ini
USER tidings
WORKDIR /var/lib/tidings
VOLUME /var/lib/tidings
# HTTP and WebSocket; the cluster port (only with --cluster.node-id).
EXPOSE 8080 7070
# SIGTERM: /readyz 503 for --net.drain-ms (5 s in the sample config), then up to 5 s to close
# the connections: give `docker stop` more than its default 10 s (--stop-timeout 30 above).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tidings-node", "--config-file=/etc/tidings/tidings.ini"]
CMD []
