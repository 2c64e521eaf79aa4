# Sourced by the OpenSearch setup scripts (the Jobs in mlplat/catalog/log_retention.py and opensearch_users.py):
# the authenticated HTTP call over verified TLS and the wait for an endpoint (the cluster's health, by default).
: "${OPENSEARCH_URL:?}" "${OPENSEARCH_USERNAME:?}" "${OPENSEARCH_PASSWORD:?}" "${CA_FILE:?}"
WORK="${TMPDIR:-/tmp}"

call() {  # method path [curl args...]: the body in $WORK/body.json, the HTTP status in $status
  method=$1 path=$2
  shift 2
  status=$(curl --silent --show-error --cacert "$CA_FILE" -u "$OPENSEARCH_USERNAME:$OPENSEARCH_PASSWORD" \
    -H 'Content-Type: application/json' -X "$method" -o "$WORK/body.json" -w '%{http_code}' "$@" \
    "$OPENSEARCH_URL$path") || status=000
}

wait_until_ok() {  # what request path: GET with `request` (call, or a script's own) until it answers 200
  what=$1 request=$2 path=$3
  tries=0
  while :; do
    "$request" GET "$path"
    [ "$status" = 200 ] && return 0
    tries=$((tries + 1))
    if [ "$tries" -ge "${WAIT_TRIES:-60}" ]; then
      echo "$what did not answer (last status $status) after $tries tries" >&2
      exit 1
    fi
    sleep "${WAIT_SECONDS:-10}"
  done
}

wait_for_cluster() {
  wait_until_ok "OpenSearch at $OPENSEARCH_URL" call "/_cluster/health?wait_for_status=yellow&timeout=10s"
}
