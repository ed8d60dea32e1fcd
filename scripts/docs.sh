#!/usr/bin/env bash
# Builds the API reference of VFSKit and VFSConformance (DocC catalogs in
# Sources/*/*.docc) with swift-docc-plugin, failing on any DocC warning: a broken
# ``symbol`` or <doc:article> link, an undocumented topic reference.
#   scripts/docs.sh            # archives in .build/plugins/Swift-DocC/outputs/*.doccarchive
#   scripts/docs.sh --static   # also static HTML in .build/docs/<target>/ (open index.html)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
extra=()
status=0
for target in VFSKit VFSConformance; do
    if [ "${1:-}" = "--static" ]; then
        mkdir -p ".build/docs/$target"
        extra=(--disable-indexing --transform-for-static-hosting --output-path ".build/docs/$target")
    fi
    log=".build/docs-$target.log"
    mkdir -p .build
    if ! swift package --allow-writing-to-directory .build/docs generate-documentation \
        --target "$target" --warnings-as-errors "${extra[@]}" >"$log" 2>&1; then
        grep -E "warning|error" "$log" >&2 || tail -20 "$log" >&2
        echo "docs: $target: DocC found problems (full log: $log)" >&2
        status=1
    else
        echo "docs: $target: built, no warnings"
    fi
done
exit "$status"
