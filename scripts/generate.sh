#!/usr/bin/env bash
# Regenerates gen/ from proto/ with buf and the protoc plugins pinned in
# tools/go.mod (built from the Go module cache/proxy; no Buf Schema Registry).
#
#   scripts/generate.sh          # lint proto/ and regenerate gen/
#   scripts/generate.sh --check  # regenerate into a temp dir, fail on drift
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="$root/.bin"
mkdir -p "$bin"
go -C tools build -o "$bin/" \
  github.com/bufbuild/buf/cmd/buf \
  google.golang.org/protobuf/cmd/protoc-gen-go \
  google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2
export PATH="$bin:$PATH"

buf lint
generated=(notifier openapi/notifier.swagger.json)

if [[ "${1:-}" == "--check" ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  buf generate -o "$tmp"
  status=0
  for g in "${generated[@]}"; do
    diff -r "gen/$g" "$tmp/gen/$g" || status=1
  done
  if [[ $status -ne 0 ]]; then
    echo "generated code in gen/ is stale: run scripts/generate.sh and commit" >&2
    exit 1
  fi
  echo "gen/ is up to date"
  exit 0
fi

for g in "${generated[@]}"; do rm -rf "gen/$g"; done
buf generate
echo "regenerated gen/"
