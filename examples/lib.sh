# Helpers shared by the example scripts (sourced, not run): checked curl calls and JSON lookups.
# Needs CLARION_URL and the header array H set by the caller.

die() { echo "FAILED: $*" >&2; exit 1; }
step() { echo "--> $*"; }
CURL_ERRORS=$(mktemp)
trap 'rm -f "$CURL_ERRORS"' EXIT

# request METHOD PATH [JSON]: sets STATUS and BODY.
request() {
  local method=$1 path=$2 output rc=0
  local args=(-sS --fail-with-body -X "$method" "${H[@]}" -w '\n%{http_code}')
  [[ $# -ge 3 ]] && args+=(--data "$3")
  output=$(curl "${args[@]}" "$CLARION_URL$path" 2>"$CURL_ERRORS") || rc=$?
  # 22 is curl's "HTTP status >= 400" (the body is kept): the caller checks the status.
  [[ $rc -eq 0 || $rc -eq 22 ]] || die "$method $path: $(<"$CURL_ERRORS") (is Clarion running at $CLARION_URL?)"
  STATUS=${output##*$'\n'}
  BODY=${output%$'\n'*}
}

# call EXPECTED_STATUS METHOD PATH [JSON]: request, and stop unless the status is the expected one.
call() {
  local expected=$1
  shift
  request "$@"
  [[ $STATUS == "$expected" ]] || die "$1 $2: expected HTTP $expected, got $STATUS: $BODY"
}

# The value at PATH in a JSON document: dotted keys and list indexes (result.methods.0), `|length` counts;
# strings bare, anything else as JSON (a missing key is null).
LOOKUP='
import json, sys
def lookup(document, where):
    path, _, count = where.partition("|")
    value = document
    for key in filter(None, path.split(".")):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            value = value.get(key) if isinstance(value, dict) else None
    if count == "length":
        value = len(value) if isinstance(value, (list, dict)) else None
    return value if isinstance(value, str) else json.dumps(value)
'

# get PATH: the value at PATH in BODY.
get() { python3 -S -c "$LOOKUP"'
print(lookup(json.loads(sys.argv[1]), sys.argv[2]))' "$BODY" "$1"; }

# expect PATH VALUE [PATH VALUE ...]: stops unless BODY has each VALUE at its PATH.
expect() {
  local wrong
  wrong=$(python3 -S -c "$LOOKUP"'
document, pairs = json.loads(sys.argv[1]), sys.argv[2:]
for where, want in zip(pairs[::2], pairs[1::2]):
    if lookup(document, where) != want:
        print(f"{where}: expected {want}, got {lookup(document, where)}")' "$BODY" "$@")
  [[ -z $wrong ]] || die "$wrong in $BODY"
}

