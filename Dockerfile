# syntax=docker/dockerfile:1
# Meridian container image: a Rust build stage and a distroless runtime stage.
# Build: docker build -t meridian .   (the CI workflow in deploy/github/workflows/deploy.yml does this)

# The toolchain must be >= 1.85 (edition 2024); 1.95 is the version the project is tested with.
ARG RUST_VERSION=1.95

# ---- build stage -------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src

# 1. Dependencies only. The manifest and lock file change far less often than the sources, so this
#    layer (the whole crates.io dependency build) stays cached across source edits. Stub every
#    target the manifest names (src/main.rs, src/lib.rs and any explicit `path = "...rs"`, since cargo
#    refuses a manifest whose targets are missing), build, then drop the src/ stubs.
COPY Cargo.toml Cargo.lock ./
RUN set -eu; \
    stubs="src/main.rs src/lib.rs $(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' Cargo.toml)"; \
    for f in $stubs; do mkdir -p "$(dirname "$f")"; echo 'fn main() {}' > "$f"; done; \
    cargo build --release --locked; \
    rm -rf src

# 2. The real sources. `touch` makes cargo rebuild the meridian crate even when the copied files
#    carry older mtimes than the stubs it just compiled.
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
