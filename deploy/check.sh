#!/usr/bin/env bash
# Offline proof for the deployment: terraform fmt/validate/test (mocked AWS providers), checkov over
# the Terraform (with Meridian's AWS API-rule checks, each proven to fire on a broken fixture) and
# the Dockerfile, hadolint, the failover automation's unit tests, the Grafana dashboard.
# Usage: deploy/check.sh [--mutations]   (--mutations: also run terraform test on mutated copies)
# Runs from any directory, leaves the work tree untouched, needs no network except PyPI for the
# first install of checkov/hadolint (cached in ${XDG_CACHE_HOME:-~/.cache}/meridian-ci/venv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mutations=0
[ "${1:-}" = "--mutations" ] && mutations=1
root="$(cd "$here/.." && pwd)"
tf_src="$here/terraform"
env_rel="environments/production"

passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); echo "PASS  $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL  $1"; }
# run NAME LOGFILE CMD...: run a step, keep its output in LOGFILE, show the tail on failure.
run() {
    local name="$1" log="$2"
    shift 2
    if "$@" >"$log" 2>&1; then
        pass "$name"
    else
        fail "$name"
        tail -n 40 "$log" | sed 's/^/      /'
    fi
}

work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$(date +%s)

# --- Terraform -----------------------------------------------------------------------------------

find_terraform() {
    if command -v terraform >/dev/null 2>&1; then
        command -v terraform
    elif [ -x /usr/local/bin/terraform ]; then
        echo /usr/local/bin/terraform
    fi
}

find_mirror() {
    local dir
    for dir in /opt/tf-plugins "$HOME/.terraform.d/plugins" /usr/share/terraform/plugins; do
        if [ -d "$dir/registry.terraform.io/hashicorp/aws" ]; then
            echo "$dir"
            return
        fi
    done
}

tf="$(find_terraform)"
mirror="$(find_mirror)"

if [ -z "$tf" ]; then
    echo "SKIP  terraform not found (PATH, /usr/local/bin): fmt, validate and test not run"
elif [ -z "$mirror" ]; then
    echo "SKIP  no local mirror of hashicorp/aws (/opt/tf-plugins, ~/.terraform.d/plugins, /usr/share/terraform/plugins): validate and test not run"
    run "terraform fmt -check" "$work/fmt.log" "$tf" -chdir="$tf_src" fmt -check -recursive -diff
else
    # Filesystem mirror only, never the registry; all state and plugins in the temp dir.
    cat >"$work/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
    export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
    unset TF_PLUGIN_CACHE_DIR

    run "terraform fmt -check" "$work/fmt.log" "$tf" -chdir="$tf_src" fmt -check -recursive -diff

    # Work on a copy so init never writes .terraform or lock files into the repository.
    cp -R "$tf_src" "$work/tf"
    find "$work/tf" -name .terraform -type d -prune -exec rm -rf {} +

    # Modules with a single provider validate on their own; data and peering take provider
    # aliases and are validated through the environment. Per-region sub-modules nested in a module
    # (data/bucket, data/cluster) have a single provider and validate on their own too.
    for mod in "$work"/tf/modules/*/ "$work"/tf/modules/*/*/; do
        [ -f "$mod/versions.tf" ] || continue
        name="${mod#"$work"/tf/modules/}"
        name="${name%/}"
        if grep -q configuration_aliases "$mod/versions.tf"; then
            continue
        fi
        run "terraform validate modules/$name" "$work/validate-${name//\//-}.log" \
            env TF_DATA_DIR="$work/data-${name//\//-}" sh -c \
            "'$tf' -chdir='$mod' init -backend=false -input=false && '$tf' -chdir='$mod' validate"
    done

    # The replicated Terraform state buckets (applied once, by hand).
    run "terraform validate bootstrap/state" "$work/validate-bootstrap.log" \
        env TF_DATA_DIR="$work/data-bootstrap" sh -c \
        "'$tf' -chdir='$work/tf/bootstrap/state' init -backend=false -input=false && '$tf' -chdir='$work/tf/bootstrap/state' validate"

    envdir="$work/tf/$env_rel"
    export TF_DATA_DIR="$work/data-production"
    if "$tf" -chdir="$envdir" init -backend=false -input=false -lockfile=readonly >"$work/init.log" 2>&1; then
        pass "terraform init $env_rel (offline mirror)"
        run "terraform validate $env_rel" "$work/validate.log" "$tf" -chdir="$envdir" validate
        if "$tf" -chdir="$envdir" test -no-color >"$work/test.log" 2>&1; then
            pass "terraform test $env_rel ($(grep -E '^Success!' "$work/test.log" | sed -e 's/^Success! //' -e 's/\.$//'))"
        else
            fail "terraform test $env_rel"
            grep -E 'run "|Error|error_message|Failure' "$work/test.log" | head -n 40 | sed 's/^/      /'
        fi
        # --mutations: each API-rule assertion of terraform test must fail on the broken version it
        # guards against (deploy/policies/mutations.txt). ~1 minute per mutation, so not by default.
        if [ "$mutations" = 1 ]; then
            while IFS='|' read -r file expr expect; do
                case "$file" in ''|'#'*) continue ;; esac
                rm -rf "$work/mut" && cp -R "$work/tf" "$work/mut"
                sed -i "$expr" "$work/mut/$file"
                if cmp -s "$work/tf/$file" "$work/mut/$file"; then
                    fail "mutation did not apply: $file $expr"
                    continue
                fi
                ( cd "$work/mut/$env_rel" && "$tf" test -no-color >"$work/mut.log" 2>&1 ) && rc=0 || rc=$?
                # Terraform wraps long messages: compare with whitespace runs folded to one space.
                if [ "$rc" != 0 ] && tr -s ' \n' '  ' <"$work/mut.log" | grep -qF "$expect"; then
                    pass "terraform test fails on mutation of $file: $expect"
                else
                    fail "terraform test did not catch mutation of $file ($expect)"
                fi
            done <"$here/policies/mutations.txt"
            rm -rf "$work/mut"
        fi
    else
        fail "terraform init $env_rel"
        tail -n 20 "$work/init.log" | sed 's/^/      /'
    fi
    unset TF_DATA_DIR

    # The rendered Meridian config must pass Meridian's own validator (config/example.toml is the
    # contract; unknown keys are errors). Needs a built binary; skipped without one.
    meridian_bin=""
    for candidate in "$root/target/release/meridian" "$root/target/debug/meridian" "$(command -v meridian || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then meridian_bin="$candidate"; break; fi
    done
    if [ -z "$meridian_bin" ]; then
        echo "SKIP  meridian check of the rendered config: no meridian binary (cargo build first)"
    else
        mkdir -p "$work/render"
        cat >"$work/render/main.tf" <<TF
output "config" {
  value = templatefile("$tf_src/modules/region/templates/meridian.toml.tftpl", {
    local_region = "eu-west-1", app_port = 3000, drain = 15, grace = 30,
    siblings = [{ name = "us-east-1", host = "ingress.us-east-1.example.com" },
                { name = "ap-southeast-1", host = "ingress.ap-southeast-1.example.com" }]
  })
}
TF
        run "meridian check of the Terraform-rendered config" "$work/render.log" sh -c '
            cd "$1" && TF_DATA_DIR="$1/.tf" "$2" init -input=false >/dev/null &&
            TF_DATA_DIR="$1/.tf" "$2" apply -auto-approve -input=false >/dev/null &&
            TF_DATA_DIR="$1/.tf" "$2" output -raw config >meridian.toml &&
            MERIDIAN_FORWARD_SECRET=check "$3" check --config meridian.toml' sh "$work/render" "$tf" "$meridian_bin"
    fi
fi

# No NAT gateway anywhere: the design reaches AWS APIs through VPC endpoints and siblings through
# peering. Checked on the configuration itself (comments stripped).
if grep -rhE --include='*.tf' -v '^[[:space:]]*#' "$tf_src" | grep -qE 'resource[[:space:]]+"aws_nat_gateway"|nat_gateway_id'; then
    fail "no NAT gateway in deploy/terraform"
else
    pass "no NAT gateway in deploy/terraform"
fi

# --- Python tools: checkov and hadolint in a cached venv ------------------------------------------

venv="${XDG_CACHE_HOME:-$HOME/.cache}/meridian-ci/venv"
reqs="$here/requirements-check.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$reqs" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/hadolint" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "....  installing checkov and hadolint into $venv (first run only)"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs" >"$work/pip.log" 2>&1 \
        || { cat "$work/pip.log"; echo "check.sh: 0 passed, 1 failed (pip install)"; exit 1; }
    echo "$want" >"$stamp"
fi

# checkov offline: no downloads, no platform calls.
export BC_SKIP_MAPPING=TRUE CHECKOV_SKIP_DOWNLOAD=TRUE
checkov_step() {
    local name="$1" out="$2"
    shift 2
    "$venv/bin/checkov" --config-file "$here/checkov.yaml" -o json "$@" >"$out" 2>"$out.err" || true
    local summary
    if summary="$("$venv/bin/python" - "$out" <<'PY'
import json, sys
try:
    data = json.load(open(sys.argv[1]))
except Exception as exc:  # checkov printed no JSON: treat as a failure
    print(f"no checkov report ({exc})")
    sys.exit(1)
reports = data if isinstance(data, list) else [data]
p = f = s = 0
for r in reports:
    if "summary" not in r:
        continue
    p += r["summary"]["passed"]; f += r["summary"]["failed"]; s += r["summary"]["skipped"]
    for c in r["results"]["failed_checks"]:
        print(f"      {c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})")
print(f"{p} passed, {f} failed, {s} skipped")
sys.exit(1 if f or not p else 0)
PY
)"; then
        pass "$name: $(tail -n 1 <<<"$summary")"
    else
        fail "$name: $(tail -n 1 <<<"$summary")"
        head -n -1 <<<"$summary"
        tail -n 5 "$out.err" | sed 's/^/      /'
    fi
}
# Meridian's own checks (deploy/policies/checkov: AWS API rules the provider does not enforce) run
# with checkov's over the real Terraform...
checkov_step "checkov terraform (+ Meridian API rules)" "$work/checkov-tf.json" -d "$tf_src" --framework terraform \
    --external-checks-dir "$here/policies/checkov"
# ...and must fire on the broken version each one guards against (deploy/policies/fixtures).
api_checks="$(sed -n 's/^ *id="\(CKV_MERIDIAN_[0-9]*\)".*/\1/p' "$here"/policies/checkov/*.py | paste -sd, -)"
"$venv/bin/checkov" -d "$here/policies/fixtures" --framework terraform --external-checks-dir "$here/policies/checkov" \
    --check "$api_checks" --skip-download -o json >"$work/fixtures.json" 2>"$work/fixtures.err" || true
run "API-rule checks fire on their broken fixtures ($api_checks)" "$work/prove.log" \
    "$venv/bin/python" "$here/policies/prove.py" "$work/fixtures.json" "$here/policies/fixtures"
sed 's/^/      /' "$work/prove.log"
checkov_step "checkov dockerfile" "$work/checkov-docker.json" -f "$root/Dockerfile" --framework dockerfile
# The workflow is kept outside .github/ so nothing runs it here; checkov looks for it there.
mkdir -p "$work/gha/.github/workflows"
cp "$here"/github/workflows/*.yml "$work/gha/.github/workflows/"
checkov_step "checkov github_actions" "$work/checkov-gha.json" -d "$work/gha" --framework github_actions
skips=$(grep -cE '^[[:space:]]*-[[:space:]]+CKV' "$here/checkov.yaml" || true)
echo "      ($skips check IDs skipped, each with its reason, in deploy/checkov.yaml)"

run "failover automation decision logic (unit tests)" "$work/dr-tests.log" \
    python3 -m unittest discover -s "$tf_src/modules/dr/scripts"

run "Meridian metrics used by the dashboard, the collector and the alarms all exist" "$work/grafana.log" \
    python3 "$here/scripts/check-dashboard.py" "$here/grafana/meridian.json" "$root/README.md" \
    "$tf_src/modules/region/templates/adot-collector.yaml.tftpl" "$tf_src"/modules/monitoring/*.tf

run "docs/cost.md tables match deploy/scripts/cost-model.py" "$work/cost.log" \
    python3 "$here/scripts/cost-model.py" --check "$root/docs/cost.md"

run "module READMEs match variables.tf/outputs.tf (every input and output described)" "$work/docs.log" \
    python3 "$here/scripts/module-docs.py" --check

run "bash -n deploy/check.sh deploy/scripts/*.sh" "$work/bashn.log" \
    sh -c 'for f in "$1"/check.sh "$1"/scripts/*.sh; do bash -n "$f" || exit 1; done' sh "$here"

run "hadolint Dockerfile" "$work/hadolint.log" "$venv/bin/hadolint" --config "$root/.hadolint.yaml" "$root/Dockerfile"

# --- Summary ---------------------------------------------------------------------------------------

echo
echo "deploy/check.sh finished in $(($(date +%s) - start)) s"
for f in "${failures[@]+"${failures[@]}"}"; do echo "  failed: $f"; done
echo "deploy checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
