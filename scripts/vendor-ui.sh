#!/usr/bin/env bash
# Refreshes the web panel's vendored front-end libraries under server/ui/vendor/
# from the npm registry, at pinned versions, and checks each copied file against
# the sha256 committed below: a mismatch (a re-published tarball, a wrong
# version) fails loudly and leaves the committed files untouched.
#
#   scripts/vendor-ui.sh
#
# What is vendored and why:
#   htm@3.1.1            preact/standalone.module.js: Preact + hooks + htm in one
#                        ES module (no bundler) -> vendor/htm-preact-3.1.1.module.js
#   swagger-ui-dist@5.35.0  swagger-ui-bundle.js and swagger-ui.css for /docs only
# Each library's LICENSE is copied beside it (and swagger-ui's third-party
# notices). htm's standalone build bundles Preact (MIT): see vendor/README.md.
# To move to a new version: change the version, run with UPDATE_SHA=1 to print
# the new sums, review the diff of the vendored files, paste the sums here.
set -euo pipefail

HTM_VERSION=3.1.1
SWAGGER_VERSION=5.35.0
# The Preact that htm's standalone build bundles is a 10.x (htm 3.1.1 builds
# against preact ^10.2.0); its MIT licence is the same text in every 10.x.
PREACT_LICENSE_VERSION=10.2.0

# sha256 of every vendored file, by its path under server/ui/vendor/.
declare -A SHA256=(
    [htm-preact-3.1.1.module.js]=72284e8e9079c87817145df1110f74e8a2aa040b2fc384922e18dfcb46fc1fd7
    [htm-preact-3.1.1.LICENSE]=740725f7252e750af735d0028cc534970772f513331e9f68150fede8fb3ce00f
    [preact-10.LICENSE]=1fe6958409c8c257a70c587a18b6f7f412b179b456630790d30b2ec9a8e4b7d4
    [swagger-ui/swagger-ui-bundle.js]=e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2
    [swagger-ui/swagger-ui.css]=5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d
    [swagger-ui/LICENSE]=cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30
    [swagger-ui/swagger-ui-bundle.js.LICENSE.txt]=37eb6e7e59aed57b2c1acf076574b818ea07b74265717e0bd67b59e0baf9abbb
)

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/server/ui/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say() { printf 'vendor-ui: %s\n' "$*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

command -v npm >/dev/null || fail "npm is needed (apt-get install npm)"

# npm pack PKG@VER into $work/<name>, extracted.
fetch() {
    local spec="$1" dir="$work/$2"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$spec" >/dev/null) || fail "npm pack $spec failed"
    tar -xzf "$dir"/*.tgz -C "$dir" || fail "cannot extract $spec"
}

fetch "htm@$HTM_VERSION" htm
fetch "swagger-ui-dist@$SWAGGER_VERSION" swagger
fetch "preact@$PREACT_LICENSE_VERSION" preact

stage="$work/stage"
mkdir -p "$stage/swagger-ui"
cp "$work/htm/package/preact/standalone.module.js" "$stage/htm-preact-$HTM_VERSION.module.js"
cp "$work/htm/package/LICENSE" "$stage/htm-preact-$HTM_VERSION.LICENSE"
cp "$work/preact/package/LICENSE" "$stage/preact-10.LICENSE"
cp "$work/swagger/package/swagger-ui-bundle.js" "$stage/swagger-ui/"
cp "$work/swagger/package/swagger-ui.css" "$stage/swagger-ui/"
cp "$work/swagger/package/LICENSE" "$stage/swagger-ui/"
# The third-party notices the bundle's first line points to.
cp "$work/swagger/package/swagger-ui-bundle.js.LICENSE.txt" "$stage/swagger-ui/"

bad=0
for f in "${!SHA256[@]}"; do
    [ -f "$stage/$f" ] || fail "missing $f in the packed sources"
    got="$(sha256sum "$stage/$f" | cut -d' ' -f1)"
    if [ "${UPDATE_SHA:-0}" = 1 ]; then
        printf '    [%s]=%s\n' "$f" "$got"
    elif [ "$got" != "${SHA256[$f]}" ]; then
        say "sha256 mismatch for $f: expected ${SHA256[$f]}, got $got"
        bad=1
    fi
done
[ "${UPDATE_SHA:-0}" = 1 ] && { say "UPDATE_SHA=1: sums printed, nothing copied"; exit 0; }
[ "$bad" = 0 ] || fail "checksum mismatch: vendored files NOT updated"

mkdir -p "$dest/swagger-ui"
for f in "${!SHA256[@]}"; do
    cp "$stage/$f" "$dest/$f"
done
say "vendored htm@$HTM_VERSION (Preact standalone) and swagger-ui-dist@$SWAGGER_VERSION into server/ui/vendor (checksums verified)"
