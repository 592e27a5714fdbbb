#!/usr/bin/env bash
# Builds the crvsx image: the static binary (CGO off, version and commit
# stamped) built on this machine, then the FROM-scratch image around it
# (cmd/crvsx/Dockerfile). Usage, from anywhere in the repository:
#
#   cmd/crvsx/build-image.sh [TAG]        # default crvsx:dev
#
# CRVSX_BUILD_TAGS=crvsx_failpoint builds a test image whose nodes honour
# the fault hooks (e.g. CRVSX_FAKE_TIME_OFFSET); never ship one.
set -euo pipefail
tag="${1:-crvsx:dev}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
version="$(git describe --always --dirty 2>/dev/null || echo dev)"
commit="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -tags "${CRVSX_BUILD_TAGS:-}" -ldflags "-X main.version=$version -X main.commit=$commit" -o "$ctx/crvsx" ./cmd/crvsx
cp cmd/crvsx/Dockerfile "$ctx/"
mkdir -p "$ctx/rootfs/tmp"
docker build -q --build-arg VERSION="$version" --build-arg COMMIT="$commit" -t "$tag" "$ctx" >/dev/null
echo "built $tag ($version, $commit)"
