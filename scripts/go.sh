# Sourced by scripts/tools.sh and scripts/control-plane.sh: puts a Go >= $GO_MINIMUM on
# PATH. The machine's own Go when it is new enough; otherwise Go $GO_VERSION, installed
# once into the cache from the Go module proxy (golang.org/toolchain: the same zip the
# go command itself fetches for GOTOOLCHAIN=go$GO_VERSION), checked against the pinned
# sha256 below. Debian 12 offers Go 1.19, too old for these modules (go.mod: go 1.26.0),
# and 1.19 cannot fetch a newer toolchain by itself.
# The hashes are of the zips `go mod download golang.org/toolchain@v0.0.1-go1.26.8.linux-*`
# fetched and verified against sum.golang.org (h1:ZOmGe1On... amd64, h1:sYL/O6Mq... arm64).

GO_MINIMUM=1.26
GO_VERSION=1.26.8
declare -A GO_ZIP_SHA256=(
    [amd64]=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
    [arm64]=02b36b6787b3ac767668f630e2998df45a3b1f9ffee08d1bf3ef6487cd658d99
)

# go_is_new_enough GOVERSION: go1.26.8 -> true for GO_MINIMUM 1.26
go_is_new_enough() {
    local have=${1#go}
    [ "$(printf '%s\n%s\n' "$GO_MINIMUM" "$have" | sort -V | head -n1)" = "$GO_MINIMUM" ]
}

# ensure_go PYTHON CACHE_DIR: export PATH with a usable go first; say() must exist.
ensure_go() {
    local python=$1 cache=$2
    if command -v go >/dev/null && go_is_new_enough "$(go env GOVERSION 2>/dev/null)"; then
        return 0
    fi
    local arch
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) say "no Go >= $GO_MINIMUM on PATH, and no pinned Go for $(uname -m)"; return 1 ;;
    esac
    local root="$cache/go$GO_VERSION.linux-$arch"
    if [ ! -x "$root/bin/go" ]; then
        local proxy=${GOPROXY:-https://proxy.golang.org}
        proxy=${proxy%%[,|]*}
        case "$proxy" in http*) ;; *) proxy=https://proxy.golang.org ;; esac
        say "installing Go $GO_VERSION into $root from $proxy (about 76 MB, once)"
        mkdir -p "$cache"
        # One install at a time: tools.sh and control-plane.sh may run together.
        (
        flock 8
        [ -x "$root/bin/go" ] || "$python" - "$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip" \
            "${GO_ZIP_SHA256[$arch]}" "$root" <<'PY'
import hashlib, io, os, shutil, sys, tempfile, urllib.request, zipfile

url, want, root = sys.argv[1:4]
with urllib.request.urlopen(url, timeout=300) as answer:
    data = answer.read()
got = hashlib.sha256(data).hexdigest()
if got != want:
    sys.exit(f"go.sh: {url}: sha256 {got}, expected {want}: refusing to install it")
stage = tempfile.mkdtemp(dir=os.path.dirname(root))
with zipfile.ZipFile(io.BytesIO(data)) as archive:
    # Every name is golang.org/toolchain@v0.0.1-go<version>.<os>-<arch>/<path>.
    prefix = next(n for n in archive.namelist() if n.endswith("/bin/go"))[: -len("bin/go")]
    for info in archive.infolist():
        relative = info.filename[len(prefix) :]
        if not info.filename.startswith(prefix) or not relative or info.is_dir():
            continue
        target = os.path.join(stage, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with archive.open(info) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        # Module zips keep no file modes; the go command marks these executable too.
        if relative.startswith(("bin/", "pkg/tool/")):
            os.chmod(target, 0o755)
shutil.rmtree(root, ignore_errors=True)
os.rename(stage, root)
PY
        ) 8>"$cache/.install.lock"
    fi
    export PATH="$root/bin:$PATH"
    go_is_new_enough "$(go env GOVERSION)" || { say "Go in $root is not >= $GO_MINIMUM"; return 1; }
}
