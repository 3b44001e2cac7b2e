#!/usr/bin/env bash
# Regenerates one Go wrapper module of the control plane (go.mod, tools.go, go.sum).
# Run by hand when a pinned version changes; the result is committed, so that
# scripts/control-plane.sh builds exactly these versions with checked sums.
#   gen-module.sh kubernetes 1.37.2 kube-apiserver kube-controller-manager kube-scheduler
#   gen-module.sh etcd 3.6.16
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kind=$1 version=$2; shift 2

write_tools() {  # the commands to build, imported behind a build tag so tidy keeps them
    { echo '//go:build tools'; echo; echo '// Package tools pins the commands this module builds.'
      echo 'package tools'; echo; echo 'import ('
      for pkg in "$@"; do echo "	_ \"$pkg\""; done; echo ')'; } > tools.go
}

case $kind in
kubernetes)
    minor=${version%.*}
    dir="$HERE/kubernetes-$minor"; mkdir -p "$dir"; cd "$dir"
    upstream=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
    staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$upstream" | sort -u)
    { echo "module tradingstack.io/controlplane/kubernetes-$minor"; echo
      grep -E '^go ' "$upstream"; echo
      echo "require k8s.io/kubernetes v$version"; echo
      echo '// k8s.io/kubernetes points its staging modules at ./staging: use the published ones.'
      echo 'replace ('
      for m in $staging; do echo "	$m => $m v0.${version#1.}"; done
      echo ')'; } > go.mod
    pkgs=(); for cmd in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$cmd"); done
    write_tools "${pkgs[@]}"
    ;;
etcd)
    dir="$HERE/etcd"; mkdir -p "$dir"; cd "$dir"
    printf 'module tradingstack.io/controlplane/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$version" > go.mod
    write_tools go.etcd.io/etcd/server/v3
    ;;
*) echo "unknown kind $kind" >&2; exit 2 ;;
esac
rm -f go.sum
go mod tidy
