#!/usr/bin/env bash
# Run the build stage of /Dockerfile without Docker (no engine on the dev and CI machines):
# its COPY and RUN instructions are replayed, in order, in a temporary directory with the host's
# cargo, then the binary is checked the way the runtime stage uses it. Proves the dependency-cache
# stubs still satisfy the current Cargo.toml and that every file the build needs is copied.
# Slow (a full release build, ~3-4 min on 2 cores), so not part of deploy/check.sh by default:
#   bash deploy/scripts/simulate-image-build.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/meridian-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src-root" "$work/out"

# Instructions of the first stage (up to the second FROM), continuation lines joined.
python3 - "$root/Dockerfile" >"$work/steps" <<'PY'
import sys
lines, cur = [], ""
for raw in open(sys.argv[1]).read().splitlines():
    if raw.lstrip().startswith("#") and not cur:
        continue
    cur += raw[:-1] + " " if raw.endswith("\\") else raw
    if not raw.endswith("\\"):
        if cur.strip():
            lines.append(cur.strip())
        cur = ""
froms = 0
for line in lines:
    word = line.split(None, 1)[0].upper()
    if word == "FROM":
        froms += 1
        if froms == 2:
            break
        continue
    if word in ("COPY", "RUN"):
        print(line.replace("\n", " "))
PY

cd "$work/src-root"
while IFS= read -r step; do
    kind="${step%% *}"
    args="${step#* }"
    case "$kind" in
        COPY)
            # shellcheck disable=SC2206
            parts=($args)
            dest="${parts[-1]}"
            for src in "${parts[@]:0:${#parts[@]}-1}"; do
                cp -R "$root/$src" "$dest"
            done
            ;;
        RUN)
            # The runtime-stage path /meridian becomes $work/out/meridian: never write to the host's /.
            cmd="${args// \/meridian/ $work/out/meridian}"
            echo "+ RUN ${args:0:100}..."
            sh -c "$cmd"
            ;;
    esac
done <"$work/steps"

"$work/out/meridian" --version
echo "simulated image build: ok ($(du -h "$work/out/meridian" | cut -f1) binary)"
