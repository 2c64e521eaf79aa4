#!/bin/sh
# Provisions OpenSearch Dashboards once it answers: the index pattern of the platform's log indices, in the global
# tenant (shared by every user), as Discover's default. Run by the Job in mlplat/catalog/observability.py after every
# install and upgrade; `overwrite=true` makes a second run change nothing.
set -eu
: "${DASHBOARDS_URL:?}" "${PATTERN_FILE:?}" "${PATTERN_ID:?}"
. "$(dirname "$0")/opensearch-common.sh"

osd() {  # method path [curl args...]: as call(), against OpenSearch Dashboards' API
  method=$1 path=$2
  shift 2
  status=$(curl --silent --show-error -u "$OPENSEARCH_USERNAME:$OPENSEARCH_PASSWORD" -H 'osd-xsrf: true' \
    -H 'securitytenant: global' -H 'Content-Type: application/json' -X "$method" -o "$WORK/body.json" \
    -w '%{http_code}' "$@" "$DASHBOARDS_URL$path") || status=000
}

wait_until_ok "OpenSearch Dashboards at $DASHBOARDS_URL" osd "/api/status"

osd POST "/api/saved_objects/index-pattern/$PATTERN_ID?overwrite=true" --data-binary "@$PATTERN_FILE"
case "$status" in
  200) ;;
  *) echo "writing index pattern $PATTERN_ID: HTTP $status: $(cat "$WORK/body.json")" >&2; exit 1 ;;
esac
osd POST "/api/opensearch-dashboards/settings" --data-binary "{\"changes\": {\"defaultIndex\": \"$PATTERN_ID\"}}"
case "$status" in
  200) echo "index pattern $PATTERN_ID is Discover's default" ;;
  *) echo "making $PATTERN_ID the default index pattern: HTTP $status: $(cat "$WORK/body.json")" >&2; exit 1 ;;
esac
