# syntax=docker/dockerfile:1
# Meridian container image: a Rust build stage and a distroless runtime stage.
# Build: docker build -t meridian .   (the CI workflow in deploy/github/workflows/deploy.yml does this)
# Multi-arch: both base images are published for linux/amd64 and linux/arm64, so the same file
# builds either; the workflow builds each natively and joins them under one tag (tasks run arm64).

# The toolchain must be >= 1.85 (edition 2024); 1.95 is the version the project is tested with.
ARG RUST_VERSION=1.95

# ---- build stage -------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src

# 1. Dependencies only. The manifest and lock file change far less often than the sources, so this
#    layer (the whole crates.io dependency build) stays cached across source edits. Cargo refuses a
#    manifest whose targets are missing, so stub every target it names: src/main.rs, src/lib.rs,
#    every explicit `path = "...rs"`, and the inferred file of every [[bench]]/[[test]]/[[example]]/
#    [[bin]] without a path (benches/<name>.rs and so on). Build, then drop the src/ stubs.
COPY Cargo.toml Cargo.lock ./
RUN set -eu; \
    explicit="$(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' Cargo.toml)"; \
    inferred="$(awk ' \
      function flush() { if (kind != "" && path == "") { dir = kind == "bench" ? "benches" : kind == "test" ? "tests" : kind == "example" ? "examples" : "src/bin"; print dir "/" name ".rs" } kind = "" } \
      /^\[\[(bench|test|example|bin)\]\]/ { flush(); kind = $0; gsub(/[][]/, "", kind); name = ""; path = ""; next } \
      /^\[/ { flush(); next } \
      kind != "" && /^name[ \t]*=/ { name = $0; sub(/^[^"]*"/, "", name); sub(/".*/, "", name) } \
      kind != "" && /^path[ \t]*=/ { path = "set" } \
      END { flush() }' Cargo.toml)"; \
    for f in src/main.rs src/lib.rs $explicit $inferred; do mkdir -p "$(dirname "$f")"; echo 'fn main() {}' > "$f"; done; \
    cargo build --release --locked; \
    rm -rf src

# 2. The real sources (and config/, which the binary embeds: the demo configuration is an
#    include_str!). `touch` makes cargo rebuild the meridian crate even when the copied files carry
#    older mtimes than the stubs it just compiled.
COPY config ./config
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin meridian \
    && install -m 0755 target/release/meridian /meridian

# ---- runtime stage -----------------------------------------------------------------------------
# distroless/cc: glibc, libgcc, CA certificates (/etc/ssl/certs) and tzdata; no shell, no package
# manager. The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /meridian /meridian
USER 65532:65532
# 8080: main listener (client traffic and /.meridian/readyz). The admin listener stays on loopback.
EXPOSE 8080
ENTRYPOINT ["/meridian", "run"]
CMD ["--config", "/etc/meridian/meridian.toml"]
