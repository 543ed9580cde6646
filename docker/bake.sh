#!/bin/sh
# Bakes models into an image at build time: pulls each of $MODELS (comma-separated Hub ids, or
# name=id, as HUBSERVE_MODELS takes them) with $DTYPE into the Hugging Face cache, and writes the
# config that serves them to $1, so that the image serves them offline with no other setting.
set -eu
config=$1
mkdir -p "$(dirname "$config")"
[ -n "${MODELS:-}" ] || exit 0
dtype=${DTYPE:-fp32}
sources=
printf 'models:\n' >"$config"
for model in $(printf '%s' "$MODELS" | tr ',' ' '); do
  source=${model#*=}
  name=${model%%=*}
  printf '  - { name: "%s", source: "%s", dtype: "%s" }\n' "${name%%@*}" "$source" "$dtype" >>"$config"
  sources="$sources $source"
done
# One argument per model: $sources is split on purpose.
# shellcheck disable=SC2086
hubserve pull $sources --dtype "$dtype"
