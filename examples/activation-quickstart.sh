#!/usr/bin/env bash
# Audience activation, step by step, every answer checked:
#   1. import the bundled sample profiles (clarion profiles import examples/profiles.jsonl)
#   2. define an audience in PQL and evaluate it with a segment job
#   3. create a local-folder destination (base + target connection) and a dataflow mapping the audience
#   4. export it now with the ad-hoc activation API, wait for the run, and show the file
# Run it next to `make run` (it reads .clarion/credentials.json). An audience may be activated ad hoc only
# CLARION_ACTIVATION_FIRST_RUN_DELAY_SECONDS after it was mapped to the dataflow (Adobe: one hour), so start
# Clarion with that delay at 0 for this walkthrough:
#   CLARION_ACTIVATION_FIRST_RUN_DELAY_SECONDS=0 make run
# It exits non-zero at the first answer that is not the expected one.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(.venv/bin/clarion credentials env)"
H=(-H "Authorization: Bearer $CLARION_TOKEN" -H "x-api-key: $CLARION_API_KEY"
   -H "x-gw-ims-org-id: $CLARION_ORG" -H "x-sandbox-name: prod" -H "content-type: application/json")
FLOW=/data/foundation/flowservice
UPS=/data/core/ups
LOCAL_SPEC=7cbb2afc-04d6-4d4c-979b-65025c43dbc5       # Clarion's local folder (Data Landing Zone role)
LOCAL_FLOW_SPEC=5d7c08b2-1079-49e7-9384-19482062b54e
PROFILE_STORE_SPEC=8a9c3494-9708-43d7-ae3f-cda01e5030e1
PQL=${QUICKSTART_PQL:-'homeAddress.countryCode = "US" and loyalty.points >= 500'}
# shellcheck source=examples/lib.sh
source examples/lib.sh

# wait_for PATH FIELD DONE...: poll GET PATH until FIELD is one of DONE (30 s at most).
wait_for() {
  local path=$1 field=$2 value
  shift 2
  for _ in $(seq 1 300); do
    call 200 GET "$path"
    value=$(get "$field")
    for done in "$@"; do [[ $value == "$done" ]] && return 0; done
    sleep 0.1
  done
  die "GET $path: $field is still $value after 30 s"
}

echo "== Profiles"
step "import examples/profiles.jsonl"
.venv/bin/clarion profiles import examples/profiles.jsonl

echo "== Audience"
NAME="US loyal customers $(date +%s)"
step "define the audience in PQL: $PQL"
PQL_JSON=$(python3 -S -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$PQL")
call 200 POST "$UPS/segment/definitions" '{"name": "'"$NAME"'", "schema": {"name": "_xdm.context.profile"},
  "expression": {"type": "PQL", "format": "pql/text", "value": '"$PQL_JSON"'}}'
AUDIENCE=$(get id)
echo "    200, audience $AUDIENCE"
step "evaluate it (segment job)"
call 200 POST "$UPS/segment/jobs" '[{"segmentId": "'"$AUDIENCE"'"}]'
JOB=$(get id)
wait_for "$UPS/segment/jobs/$JOB" status SUCCEEDED FAILED
expect status SUCCEEDED
MEMBERS=$(get "metrics.segmentedProfileCounter.$AUDIENCE")
echo "    SUCCEEDED: $MEMBERS profiles qualify"

echo "== Destination and dataflow"
step "base connection (local folder)"
call 201 POST "$FLOW/connections" '{"name": "Landing zone",
  "connectionSpec": {"id": "'$LOCAL_SPEC'", "version": "1.0"}}'
BASE=$(get id)
step "target connection: CSV, gzip, folder quickstart/"
call 201 POST "$FLOW/targetConnections" '{"name": "Quickstart files", "baseConnectionId": "'"$BASE"'",
  "connectionSpec": {"id": "'$LOCAL_SPEC'", "version": "1.0"},
  "params": {"path": "quickstart", "fileType": "CSV", "compression": "GZIP"}}'
TARGET=$(get id)
step "source connection (the profile store)"
call 201 POST "$FLOW/sourceConnections" '{"name": "Profiles",
  "connectionSpec": {"id": "'$PROFILE_STORE_SPEC'", "version": "1.0"}}'
SOURCE=$(get id)
step "dataflow: email, first name, city, loyalty points and status of each member"
call 201 POST "$FLOW/flows" '{"name": "Quickstart dataflow",
  "flowSpec": {"id": "'$LOCAL_FLOW_SPEC'", "version": "1.0"},
  "sourceConnectionIds": ["'"$SOURCE"'"], "targetConnectionIds": ["'"$TARGET"'"],
  "transformations": [{"name": "GeneralTransform", "params": {"mandatoryFields": [], "primaryFields": [],
    "profileMapping": {"mappings": [{"source": "identityMap.email"}, {"source": "person.name.firstName"},
      {"source": "homeAddress.city"}, {"source": "loyalty.points"}, {"source": "segmentMembership.status"}]},
    "segmentSelectors": {"selectors": []}}}]}'
DATAFLOW=$(get id)
ETAG=$(get etag)
TODAY=$(date -u +%Y-%m-%d)
step "map the audience (JSON Patch, If-Match), daily full export from today"
SAVED=("${H[@]}")
H+=(-H "If-Match: $ETAG")
call 200 PATCH "$FLOW/flows/$DATAFLOW" '[{"op": "add",
  "path": "/transformations/0/params/segmentSelectors/selectors/-",
  "value": {"type": "PLATFORM_SEGMENT", "value": {"id": "'"$AUDIENCE"'", "name": "'"$NAME"'",
    "filenameTemplate": "%DESTINATION_NAME%_%SEGMENT_ID%_%DATETIME(YYYYMMdd_HHmmss)%",
    "exportMode": "DAILY_FULL_EXPORT",
    "schedule": {"frequency": "DAILY", "startDate": "'"$TODAY"'", "startTime": "00:00",
                 "triggerType": "SCHEDULED"}}}}]'
H=("${SAVED[@]}")
echo "    dataflow $DATAFLOW"

echo "== Ad-hoc activation"
step "POST /data/core/activation/disflowprovider/adhocrun (v2)"
SAVED=("${H[@]}")
H+=(-H "Accept: application/vnd.adobe.adhoc.activation+json; version=2")
call 200 POST /data/core/activation/disflowprovider/adhocrun \
  '{"activationInfo": {"'"$DATAFLOW"'": ["'"$AUDIENCE"'"]}}'
H=("${SAVED[@]}")
expect order.0.segment "$AUDIENCE" order.0.order "$DATAFLOW"
RUN_URL=$(get order.0.statusURL)
echo "    200, run ${RUN_URL##*/}"
step "wait for the run"
wait_for "$FLOW/runs/${RUN_URL##*/}" items.0.metrics.statusSummary.status success failed
expect items.0.metrics.statusSummary.status success items.0.metrics.recordSummary.outputRecordCount "$MEMBERS"
FILE=$(get items.0.metrics.fileSummary.files.0.name)
SHA=$(get items.0.metrics.fileSummary.files.0.sha256)
LANDING=${CLARION_LANDING_ZONE:-$(.venv/bin/python -c 'from clarion.config import Settings; print(Settings().landing_zone)')}
echo "    success: $MEMBERS records in $LANDING/quickstart/$FILE (sha256 $SHA)"
gzip -dc "$LANDING/quickstart/$FILE" | head -4
echo "Activation quickstart: every step passed."
