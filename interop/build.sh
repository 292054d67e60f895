#!/usr/bin/env bash
# Builds the Go memberlist peer (interop/go/peer) offline, in GOPATH mode, against Debian's
# golang-github-hashicorp-memberlist-dev (memberlist 0.2.2 under /usr/share/gocode).
#
#   bash interop/build.sh [OUTPUT]
#
# OUTPUT defaults to ${CARGO_TARGET_DIR:-<repo>/target}/interop/memberlist-go-peer.
# On success the absolute path of the binary is the only line on stdout.
# Needs: apt-get install -y golang-go golang-github-hashicorp-memberlist-dev
# Nothing is downloaded: the module proxy is switched off.
# MEMBERLIST_INTEROP_GOCODE overrides the Go source tree (default /usr/share/gocode).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
gocode="${MEMBERLIST_INTEROP_GOCODE:-/usr/share/gocode}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="${1:-$target_dir/interop/memberlist-go-peer}"

die() {
    echo "interop/build.sh: $*" >&2
    exit 1
}

command -v go >/dev/null 2>&1 ||
    die "the Go toolchain is missing (no 'go' on PATH); install it with: apt-get install -y golang-go"
[ -f "$gocode/src/github.com/hashicorp/memberlist/memberlist.go" ] ||
    die "Go memberlist sources are missing under $gocode/src/github.com/hashicorp/memberlist; install them with: apt-get install -y golang-github-hashicorp-memberlist-dev"

mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
work="$target_dir/interop"
mkdir -p "$work/gocache" "$work/gopath"

# GOPATH mode: imports resolve from an empty private GOPATH entry, then Debian's tree.
export GO111MODULE=off
export GOPATH="$work/gopath:$gocode"
export GOCACHE="$work/gocache"
export GOFLAGS=
export GOPROXY=off
export GOSUMDB=off
export GOTOOLCHAIN=local
export CGO_ENABLED=0

# Build into a temporary name, then rename, so concurrent builds never see a partial binary.
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$here/go/peer" && go build -o "$tmp" .) || die "go build failed (see the messages above)"
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
