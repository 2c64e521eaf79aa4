#!/bin/sh
# Gives Fluent Bit, Grafana and OpenSearch Dashboards their own OpenSearch users instead of the admin's: a role per job
# (its file in $ROLES_DIR, named <role>.json; the roles in $BUILTIN_ROLES are the security plugin's own, such as
# kibana_server, and only mapped), the user with its generated password, and the user mapped to the role. Run by the
# Job in mlplat/catalog/opensearch_users.py after every install and upgrade; every call is an idempotent PUT, so a
# rotated password or a changed role reaches OpenSearch on the next run.
set -eu
: "${ROLES_DIR:?}" "${WRITER_ROLE:?}" "${WRITER_USER:?}" "${WRITER_PASSWORD:?}"
: "${READER_ROLE:?}" "${READER_USER:?}" "${READER_PASSWORD:?}"
: "${DASHBOARDS_ROLE:?}" "${DASHBOARDS_USER:?}" "${DASHBOARDS_PASSWORD:?}"
. "$(dirname "$0")/opensearch-common.sh"

json_string() {  # the argument as a JSON string literal
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

put() {  # what path payload-args...: PUT and require 200 or 201
  what=$1 path=$2
  shift 2
  call PUT "$path" "$@"
  case "$status" in
    200|201) ;;
    *) echo "writing $what: HTTP $status: $(cat "$WORK/body.json")" >&2; exit 1 ;;
  esac
}

wait_for_cluster
for pair in "$WRITER_ROLE:$WRITER_USER:$WRITER_PASSWORD" "$READER_ROLE:$READER_USER:$READER_PASSWORD" \
    "$DASHBOARDS_ROLE:$DASHBOARDS_USER:$DASHBOARDS_PASSWORD"; do
  role=${pair%%:*} rest=${pair#*:}
  user=${rest%%:*} password=${rest#*:}
  case " ${BUILTIN_ROLES:-} " in
    *" $role "*) ;;  # the security plugin's own role: only mapped
    *) put "role $role" "/_plugins/_security/api/roles/$role" --data-binary "@$ROLES_DIR/$role.json" ;;
  esac
  put "user $user" "/_plugins/_security/api/internalusers/$user" \
    --data-binary "{\"password\": $(json_string "$password"), \"backend_roles\": []}"
  put "mapping of $role" "/_plugins/_security/api/rolesmapping/$role" \
    --data-binary "{\"users\": [$(json_string "$user")]}"
  echo "OpenSearch user $user has role $role"
done
