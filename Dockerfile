# One image for every Docket service: the chart (and anyone) picks the
# service with `docket serve <target>`; `docket` is the entrypoint.
#
#   docker build -t docket .
#   docker run --rm docket serve case
#
# Build stage: the release binary, from the locked dependency set.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin docket

# Run stage: the binary and CA certificates (for TLS to PostgreSQL,
# RabbitMQ, SMTP and OTLP), as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/docket /usr/local/bin/docket
USER 10001:10001
# gRPC, the gateway's HTTP, Prometheus metrics (when telemetry.metrics_listen is set).
EXPOSE 50051 8080 9464
ENTRYPOINT ["/usr/local/bin/docket"]
CMD ["--help"]
