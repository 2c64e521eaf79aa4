#!/bin/sh
# Puts the platform's log retention policy into OpenSearch's Index State Management and applies it to the log
# indices: new ones through the policy's ism_template, existing ones here. Run by the Job in
# mlplat/catalog/log_retention.py after every install and upgrade; safe to run again.
set -eu
: "${POLICY_ID:?}" "${INDEX_PATTERN:?}" "${POLICY_FILE:?}"
. "$(dirname "$0")/opensearch-common.sh"
wait_for_cluster

call GET "/_plugins/_ism/policies/$POLICY_ID"
case "$status" in
  404) call PUT "/_plugins/_ism/policies/$POLICY_ID" --data-binary "@$POLICY_FILE" ;;
  200)
    seq=$(sed -n 's/.*"_seq_no" *: *\([0-9][0-9]*\).*/\1/p' "$WORK/body.json")
    term=$(sed -n 's/.*"_primary_term" *: *\([0-9][0-9]*\).*/\1/p' "$WORK/body.json")
    call PUT "/_plugins/_ism/policies/$POLICY_ID?if_seq_no=$seq&if_primary_term=$term" --data-binary "@$POLICY_FILE"
    ;;
  *) echo "reading ISM policy $POLICY_ID: HTTP $status: $(cat "$WORK/body.json")" >&2; exit 1 ;;
esac
case "$status" in
  200|201) echo "ISM policy $POLICY_ID written" ;;
  *) echo "writing ISM policy $POLICY_ID: HTTP $status: $(cat "$WORK/body.json")" >&2; exit 1 ;;
esac

# Indices created before the policy: attach it; indices on an older version of it: move them to this one.
payload="{\"policy_id\": \"$POLICY_ID\"}"
call POST "/_plugins/_ism/add/$INDEX_PATTERN" --data-binary "$payload"
[ "$status" = 200 ] || { echo "attaching $POLICY_ID to $INDEX_PATTERN: HTTP $status" >&2; exit 1; }
call POST "/_plugins/_ism/change_policy/$INDEX_PATTERN" --data-binary "$payload"
[ "$status" = 200 ] || { echo "updating $INDEX_PATTERN to $POLICY_ID: HTTP $status" >&2; exit 1; }
echo "log indices $INDEX_PATTERN follow $POLICY_ID"
