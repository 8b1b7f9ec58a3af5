# Meridian's benchmark config, shared by e2e.sh and callgrind.sh so both measure the same thing.
# Usage (after sourcing): meridian_config LISTEN_PORT ADMIN_PORT HEALTH_INTERVAL P0 P1 P2 > file
# P0 is the local region's origin (us-east-1); P1 and P2 are the siblings.
meridian_config() {
    cat <<TOML
[server]
listen = "127.0.0.1:$1"
admin_listen = "127.0.0.1:$2"
local_region = "us-east-1"
forward_secret = "e2e-bench-secret"

[[regions]]
name = "us-east-1"
endpoints = ["127.0.0.1:$4"]
health_path = "/healthz"

[[regions]]
name = "eu-west-1"
endpoints = ["127.0.0.1:$5"]
health_path = "/healthz"

[[regions]]
name = "ap-southeast-1"
endpoints = ["127.0.0.1:$6"]
health_path = "/healthz"

[health]
interval = "$3"
timeout = "500ms"
rise = 2
fall = 2

[timeouts]
connect = "250ms"
per_try = "2s"
request = "5s"

[retry]
max_attempts = 3
hedge = true
hedge_delay = "auto"

[log]
level = "warn"

[[routes]]
name = "all"
TOML
}
