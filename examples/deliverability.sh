#!/usr/bin/env bash
# The loop after sending (README "Deliverability"): a Marketing campaign with a bounce domain and tracking,
# sent to the bundled mailbox simulator; then what Clarion learnt from it. Run it next to `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(.venv/bin/clarion credentials env)"
SMTP_PORT="${CLARION_SMTP_CAPTURE_PORT:-2525}"
SIM=simulator.clarion.test
H=(-H "Authorization: Bearer $CLARION_TOKEN" -H "x-api-key: $CLARION_API_KEY"
   -H "x-gw-ims-org-id: $CLARION_ORG" -H "x-sandbox-name: prod" -H "content-type: application/json")
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
api() { curl -sf "${H[@]}" "$@"; }

POOL=$(api "$CLARION_URL/v1/ip-pools" \
  -d '{"name": "news-pool-'"$RANDOM"'", "relays": [{"host": "127.0.0.1", "port": '"$SMTP_PORT"'}]}' | field id)
# bounceDomain: every message's envelope sender becomes b-<signed message id>@bounces.clarion.test, so the
# simulator's reports (and a real MTA's) find their message at the feedback listener.
CONF=$(api "$CLARION_URL/v1/channel-configurations" -d '{
  "name": "news-'"$RANDOM"'", "channel": "email", "highThroughput": true,
  "email": {"fromAddress": "news@shop.example", "fromName": "Shop", "ipPoolId": "'"$POOL"'",
            "bounceDomain": "bounces.clarion.test"}}' | field id)
CAMPAIGN=$(api "$CLARION_URL/v1/campaigns" -d '{
  "name": "Winter sale", "channel": "email", "category": "Marketing", "highThroughputMode": true,
  "channelConfigurationId": "'"$CONF"'", "tracking": {"opens": true, "clicks": true},
  "content": {"email": {"subject": "Our winter sale",
    "html": "<p>Hi {{context.firstName}}, <a href=\"https://shop.example/sale\">see the sale</a>.</p>"}}}' \
  | field id)
api -X POST "$CLARION_URL/v1/campaigns/$CAMPAIGN/activate" >/dev/null

send() {  # one recipient; prints the execution id
  api "$CLARION_URL/ajo/im/executions/highthroughput" -d '{"requestId": "'"$RANDOM$RANDOM"'",
    "campaignId": "'"$CAMPAIGN"'", "recipients": [{"type": "external", "userId": "'"$1"'",
    "namespace": "email", "context": {"firstName": "Ada"}}]}' | field executionId
}
settled() {  # wait until the campaign's messages are final and the simulator's reports are in
  for _ in $(seq 1 50); do
    pending=$(api "$CLARION_URL/v1/messages?campaignId=$CAMPAIGN&status=accepted" | field total)
    complained=$(api "$CLARION_URL/v1/messages?campaignId=$CAMPAIGN&event=complained" | field total)
    [ "$pending" = 0 ] && [ "$complained" != 0 ] && return 0
    sleep 0.2
  done
}

for who in bounce complaint success; do send "$who@$SIM" >/dev/null; done
settled
echo "== what the suppression list learnt"
for who in bounce complaint; do api "$CLARION_URL/v1/suppressions/$who@$SIM"; echo; done
echo "== a second send to bounce@ is accepted, and suppressed"
send "bounce@$SIM" >/dev/null
settled
.venv/bin/clarion messages list --campaign "$CAMPAIGN"
echo
echo "Next: .venv/bin/clarion messages show <id> for a message's history; .venv/bin/clarion outbox for the"
echo "success@ mail, its List-Unsubscribe link (POST it) and its tracked link (curl -i it); then"
echo "curl -s ... $CLARION_URL/v1/campaigns/$CAMPAIGN/stats   (campaign $CAMPAIGN)"
