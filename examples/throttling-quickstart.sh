#!/usr/bin/env bash
# The Throttling API, the Capping API, a custom action and the events API, step by step, every answer checked.
#   1. throttling under /journey/orchestration: list → create → canDeploy (GET and POST) → deploy → update the
#      deployed config → undeploy → delete; create → deploy → delete with forceDelete=true
#   2. capping under /authoring: create → canDeploy → deploy → delete refused (500, 1451) → undeploy → delete
#   3. a custom action calling QUICKSTART_ACTION_URL (default: this Clarion's own /healthz), three events
#      (one alone, two in a batch), then the action-call ledger until the three calls are sent.
# Run it next to `make run` (it reads .clarion/credentials.json). Custom actions may call only ports 80 and
# 443 unless the server runs with CLARION_CUSTOM_ACTION_ANY_PORT=1, as the default target (port 8080) needs:
#   CLARION_CUSTOM_ACTION_ANY_PORT=1 make run
# Throttling is organization-wide and managed from the production sandbox; an organization has at most one
# throttling configuration, so the script stops if yours already has one. It exits non-zero at the first
# answer that is not the expected one.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(.venv/bin/clarion credentials env)"
TARGET="${QUICKSTART_ACTION_URL:-$CLARION_URL/healthz}"
H=(-H "Authorization: Bearer $CLARION_TOKEN" -H "x-api-key: $CLARION_API_KEY"
   -H "x-gw-ims-org-id: $CLARION_ORG" -H "x-sandbox-name: prod" -H "content-type: application/json")
JO=/journey/orchestration
AUTHORING=/authoring

# shellcheck source=examples/lib.sh
source examples/lib.sh

# A throttling configuration body (PUT is a full overwrite: every field, every time).
throttling_body() {
  echo '{"name": "quickstart-throttling", "description": "throttling-quickstart.sh",
    "urlPattern": "https://api.example.org/data/2.5/*", "methods": ["POST", "PUT"], "maxThroughput": '"$1"'}'
}

echo "== Throttling API under $JO"
step "list the organization's throttling configurations"
call 200 POST "$JO/list/throttlingConfigs" '{}'
[[ $(get 'results|length') == 0 ]] || die "this organization already has a throttling configuration (only one \
is allowed): $(get results.0.uid). Delete it first: DELETE $JO/throttlingConfigs/<uid>?forceDelete=true"
echo "    200, no configuration yet"

step "create one (maxThroughput 1000)"
call 200 POST "$JO/throttlingConfigs" "$(throttling_body 1000)"
UID_T=$(get uid)
expect resStatus created canDeploy.validationStatus ok createdElement.uid "$UID_T" \
  createdElement.state created createdElement.maxThroughput 1000
echo "    200, uid $UID_T, state created, canDeploy ok"

for method in GET POST; do
  step "canDeploy ($method)"
  call 200 "$method" "$JO/throttlingConfigs/$UID_T/canDeploy"
  expect canDeploy.validationStatus ok
  echo "    200, validationStatus ok"
done

step "deploy"
call 204 POST "$JO/throttlingConfigs/$UID_T/deploy"
[[ -z $BODY ]] || die "deploy: expected an empty body, got $BODY"
echo "    204"

step "read it back"
call 200 GET "$JO/throttlingConfigs/$UID_T"
expect result.state deployed result.hasBeenDeployed true result.maxThroughput 1000
echo "    200, state deployed, hasBeenDeployed true"

step "update the deployed configuration (PUT, full body, maxThroughput 2500): it applies at once"
call 200 PUT "$JO/throttlingConfigs/$UID_T" "$(throttling_body 2500)"
expect resStatus updated canDeploy.validationStatus ok updatedElement.maxThroughput 2500
echo "    200, resStatus updated"
call 200 GET "$JO/throttlingConfigs/$UID_T"
expect result.maxThroughput 2500 result.state deployed result.hasBeenDeployed true
echo "    GET: maxThroughput 2500, still deployed"

step "undeploy (what it queued keeps draining for 24 h)"
call 204 POST "$JO/throttlingConfigs/$UID_T/undeploy"
call 200 GET "$JO/throttlingConfigs/$UID_T"
expect result.state updated result.hasBeenDeployed false
echo "    204, then state updated, hasBeenDeployed false"

step "delete"
call 200 DELETE "$JO/throttlingConfigs/$UID_T"
call 404 GET "$JO/throttlingConfigs/$UID_T"
echo "    200, then GET 404"

step "create again and deploy"
call 200 POST "$JO/throttlingConfigs" "$(throttling_body 200)"
expect resStatus created
UID_T=$(get uid)
call 204 POST "$JO/throttlingConfigs/$UID_T/deploy"
call 200 GET "$JO/throttlingConfigs/$UID_T"
expect result.state deployed
echo "    uid $UID_T, deployed"

step "delete the deployed configuration with forceDelete=true (undeploy + delete in one call)"
call 200 DELETE "$JO/throttlingConfigs/$UID_T?forceDelete=true"
call 404 GET "$JO/throttlingConfigs/$UID_T"
call 200 POST "$JO/list/throttlingConfigs" '{}'
expect 'results|length' 0
echo "    200, then GET 404 and an empty list"

echo "== Capping API under $AUTHORING"
step "create an endpoint configuration (500 calls per second, 50 connections)"
call 200 POST "$AUTHORING/endpointConfigs" '{"url": "https://api.example.org/data/2.5/*", "methods": ["GET"],
  "services": {"dataSource": {"maxHttpConnections": 50, "rating": {"maxCallsCount": 500, "periodInMs": 1000}}}}'
UID_C=$(get uid)
expect resStatus created canDeploy.validationStatus ok createdElement.uid "$UID_C" \
  createdElement.state created createdElement.hasBeenDeployed false
echo "    200, uid $UID_C"

step "canDeploy"
call 200 GET "$AUTHORING/endpointConfigs/$UID_C/canDeploy"
expect canDeploy.validationStatus ok
echo "    200, validationStatus ok"

step "deploy"
call 204 POST "$AUTHORING/endpointConfigs/$UID_C/deploy"
call 200 GET "$AUTHORING/endpointConfigs/$UID_C"
expect result.state deployed result.hasBeenDeployed true \
  result.deployedConfig.services.dataSource.rating.maxCallsCount 500
echo "    204, then state deployed with its deployedConfig"

step "delete while deployed: refused"
call 500 DELETE "$AUTHORING/endpointConfigs/$UID_C"
expect status 500 error.code 1451
echo "    500, code 1451: $(get error.message)"

step "undeploy, then delete"
call 204 POST "$AUTHORING/endpointConfigs/$UID_C/undeploy"
call 200 GET "$AUTHORING/endpointConfigs/$UID_C"
expect result.hasBeenDeployed false
call 200 DELETE "$AUTHORING/endpointConfigs/$UID_C"
call 404 GET "$AUTHORING/endpointConfigs/$UID_C"
echo "    204, 200, then GET 404"

echo "== A custom action, three events, the action-call ledger"
ACTION_NAME="quickstart_$(date +%s)_$RANDOM"
step "create the custom action $ACTION_NAME: GET $TARGET?order=<context.order>"
request POST /v1/custom-actions '{"name": "'"$ACTION_NAME"'", "url": "'"$TARGET"'", "method": "GET",
  "queryParameters": [{"name": "order", "fromContext": "order"}]}'
[[ $BODY != *default_port_only* ]] || die "custom actions may call only ports 80 and 443: restart Clarion with \
CLARION_CUSTOM_ACTION_ANY_PORT=1 (or point QUICKSTART_ACTION_URL at a default port). $BODY"
[[ $STATUS == 201 ]] || die "POST /v1/custom-actions: expected HTTP 201, got $STATUS: $BODY"
expect name "$ACTION_NAME" method GET url "$TARGET"
ACTION_ID=$(get id)
echo "    201, id $ACTION_ID"

step "one event"
call 202 POST /v1/events '{"action": "'"$ACTION_NAME"'", "context": {"order": "A-1"}}'
expect actionId "$ACTION_ID" actionName "$ACTION_NAME" status queued
echo "    202, call $(get id) queued (throttled: $(get throttled))"

step "a batch of two events"
call 202 POST /v1/events '{"events": [{"action": "'"$ACTION_NAME"'", "context": {"order": "A-2"}},
  {"action": "'"$ACTION_ID"'", "context": {"order": "A-3"}}]}'
expect 'calls|length' 2 calls.0.status queued calls.1.status queued \
  calls.0.actionId "$ACTION_ID" calls.1.actionId "$ACTION_ID"
echo "    202, calls $(get calls.0.id) and $(get calls.1.id) queued"

step "the ledger: GET /v1/action-calls?actionId=$ACTION_ID until the three calls are sent"
for _ in $(seq 60); do
  call 200 GET "/v1/action-calls?actionId=$ACTION_ID"
  summary=$(python3 -S -c '
import json, sys
calls = json.loads(sys.argv[1])["items"]
over = ["%s after %d attempt(s): %s" % (c["status"], c["attempts"], c["response"])
        for c in calls if c["status"] in ("failed", "expired")]
sent = sum(c["status"] == "sent" for c in calls)
print("stop " + "; ".join(over) if over else "%d %d" % (sent, len(calls)))
' "$BODY")
  [[ $summary != stop* ]] || die "a call of $ACTION_NAME did not go through: ${summary#stop }"
  [[ $summary == "3 3" ]] && break
  sleep 0.5
done
[[ ${summary:-} == "3 3" ]] || die "after 30 s, $summary (sent, recorded) of 3 calls: $BODY"
expect total 3 items.0.responseStatus 200 items.1.responseStatus 200 items.2.responseStatus 200
echo "    3 of 3 sent, each answered HTTP 200"

step "delete the custom action (its calls stay in the ledger)"
call 204 DELETE "/v1/custom-actions/$ACTION_ID"
call 200 GET "/v1/action-calls?actionId=$ACTION_ID"
expect total 3
echo "    204"

echo "Throttling quickstart: every step passed."
