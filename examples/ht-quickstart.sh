#!/usr/bin/env bash
# Create an IP pool, a high-throughput channel configuration and campaign, activate it, and trigger it.
# Run it next to `make run` (it reads .clarion/credentials.json), then look at the mail: clarion outbox
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(.venv/bin/clarion credentials env)"
SMTP_PORT="${CLARION_SMTP_CAPTURE_PORT:-2525}"
H=(-H "Authorization: Bearer $CLARION_TOKEN" -H "x-api-key: $CLARION_API_KEY"
   -H "x-gw-ims-org-id: $CLARION_ORG" -H "x-sandbox-name: prod" -H "content-type: application/json")
field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }

POOL=$(curl -sf "${H[@]}" "$CLARION_URL/v1/ip-pools" \
  -d '{"name": "ht-pool", "relays": [{"host": "127.0.0.1", "port": '"$SMTP_PORT"'}]}' | field id)
CONF=$(curl -sf "${H[@]}" "$CLARION_URL/v1/channel-configurations" -d '{
  "name": "ht-email", "channel": "email", "highThroughput": true,
  "email": {"fromAddress": "orders@shop.example", "fromName": "Shop", "ipPoolId": "'"$POOL"'"}}' | field id)
CAMPAIGN=$(curl -sf "${H[@]}" "$CLARION_URL/v1/campaigns" -d '{
  "name": "Order confirmation", "channel": "email", "channelConfigurationId": "'"$CONF"'",
  "highThroughputMode": true,
  "content": {"email": {"subject": "Order {{context.order.id}} confirmed",
    "html": "<p>Hi {{context.firstName}},</p><ul>{{#each context.order.items}}<li>{{this.name}}</li>{{/each}}</ul>"}}}' \
  | field id)
curl -sf "${H[@]}" -X POST "$CLARION_URL/v1/campaigns/$CAMPAIGN/activate" | field status

curl -sf "${H[@]}" "$CLARION_URL/ajo/im/executions/highthroughput" -d '{
  "requestId": "req-1", "campaignId": "'"$CAMPAIGN"'",
  "recipients": [{"type": "external", "userId": "ada@example.com", "namespace": "email",
    "context": {"firstName": "Ada", "order": {"id": "A-1001", "items": {"1": {"name": "Lamp"}, "2": {"name": "Desk"}}}}}]}'
echo
