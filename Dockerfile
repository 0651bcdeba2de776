# vpcflow in a container: a build stage with the Rust toolchain and libpcap's
# development files, and a small runtime stage with the binary only, run as an
# unprivileged user.
#
#   docker build -t vpcflow .
#   # capture files: no privilege at all
#   docker run --rm -v "$PWD:/data" vpcflow convert /data/capture.pcap --out /data/flowlogs
#   # the daemon with live capture: the host's network and CAP_NET_RAW only
#   docker run -d --network host --user 0 --cap-drop ALL --cap-add NET_RAW \
#       -v /etc/vpcflow:/etc/vpcflow:ro -v vpcflow-data:/var/lib/vpcflow vpcflow
#
# See docs/daemon.md ("In a container").

FROM rust:1-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p vpcflow \
    && install -m 0755 target/release/vpcflow /usr/local/bin/vpcflow

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vpcflow \
    && useradd --system --uid 10001 --gid vpcflow --home-dir /var/lib/vpcflow \
        --shell /usr/sbin/nologin vpcflow \
    && install -d -o vpcflow -g vpcflow -m 0750 /var/lib/vpcflow
COPY --from=build /usr/local/bin/vpcflow /usr/bin/vpcflow
COPY examples/vpcflow.toml /etc/vpcflow/vpcflow.toml
USER 10001:10001
WORKDIR /var/lib/vpcflow
VOLUME ["/var/lib/vpcflow"]
ENV VPCFLOW_LOG_STYLE=json
ENTRYPOINT ["/usr/bin/vpcflow"]
CMD ["run", "--config", "/etc/vpcflow/vpcflow.toml"]
