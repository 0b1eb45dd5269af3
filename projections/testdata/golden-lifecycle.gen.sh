#!/usr/bin/env bash
# Produces golden-lifecycle.hex: a real node's log holding every event type
# 11-19 (see projections/testdata/README.md). Needs bin/chronicle, curl and
# python3; run from the repository root.
set -euo pipefail
BIN=${BIN:-bin/chronicle}
D=$(mktemp -d)
H=127.0.0.1:18191
TOKEN=golden-admin-token-0123456789
echo "$TOKEN" > $D/admin-token
$BIN serve --data-dir $D/data --http-addr $H --raft-addr 127.0.0.1:17191 --node-id golden2 --log-level error \
  --admin-token-file $D/admin-token --callback-attempts 2 --callback-backoff 50ms --cronhubot-app hubot & PID=$!
for i in $(seq 50); do curl -sf $H/goscheduler/healthcheck >/dev/null && break; sleep 0.2; done
call() { curl -s -X$1 "$H$2" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"}; echo; }
id() { python3 -c 'import json,sys;d=json.load(sys.stdin);print(d["data"]["schedule"]["scheduleId"] if "data" in d else d["id"])'; }
# receiver: 200 everywhere, {"code":400} on /stop
python3 - <<'PY' &
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_any(self):
        n=int(self.headers.get('Content-Length') or 0); self.rfile.read(n)
        self.send_response(200); self.end_headers()
        self.wfile.write(b'{"code":400}' if self.path.startswith('/stop') else b'ok')
    do_GET=do_POST=do_PUT=do_any
    def log_message(self,*a): pass
http.server.ThreadingHTTPServer(('127.0.0.1',18192),H).serve_forever()
PY
RPID=$!
trap "kill $RPID $PID 2>/dev/null || true" EXIT
cb() { echo "{\"type\":\"http\",\"details\":{\"url\":\"http://127.0.0.1:18192/$1\",\"method\":\"POST\"}}"; }
call POST /goscheduler/apps '{"appId":"life","partitions":2,"active":true}'
TOK=$(call POST /auth/tokens '{"name":"ci","role":"writer","apps":["life"]}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
call DELETE /auth/tokens/$TOK
call POST /goscheduler/apps/life/signing-secret/rotate
NOW=$(date +%s)
# a cron with a definition, updated, paused, resumed, triggered, then deleted
UPD=$(call POST /goscheduler/schedules "{\"appId\":\"life\",\"payload\":\"v1\",\"cronExpression\":\"*/2 * * * * *\",\"name\":\"report\",\"labels\":{\"team\":\"a\"},\"callback\":$(cb upd)}" | id)
sleep 2.5
call PATCH /goscheduler/schedules/$UPD "{\"cronExpression\":\"*/3 * * * * *\",\"payload\":\"v2\",\"name\":\"daily report\",\"endTime\":$((NOW+3600))}"
call POST /goscheduler/schedules/$UPD/pause
call POST /goscheduler/schedules/$UPD/resume
call POST /goscheduler/schedules/$UPD/trigger
sleep 3.5
call DELETE /goscheduler/schedules/$UPD
# a cron that expires at its end time, a cron its receiver stops
call POST /goscheduler/schedules "{\"appId\":\"life\",\"payload\":\"e\",\"cronExpression\":\"* * * * * *\",\"endTime\":$((NOW+9)),\"callback\":$(cb exp)}"
STOP=$(call POST /goscheduler/schedules "{\"appId\":\"life\",\"payload\":\"s\",\"cronExpression\":\"* * * * * *\",\"stopOnCallback\":true,\"callback\":{\"type\":\"http\",\"details\":{\"url\":\"http://127.0.0.1:18192/stop?x=1\",\"method\":\"GET\",\"numberParam\":\"n\"}}}" | id)
# one-time schedules created paused: one resumed (and run), one moved and left paused
ONE=$(call POST /goscheduler/schedules "{\"appId\":\"life\",\"payload\":\"o\",\"scheduleTime\":$((NOW+8)),\"paused\":true,\"callback\":$(cb one)}" | id)
call POST /goscheduler/schedules/$ONE/resume
TWO=$(call POST /goscheduler/schedules "{\"appId\":\"life\",\"payload\":\"t\",\"scheduleTime\":$((NOW+7200)),\"paused\":true,\"callback\":$(cb two)}" | id)
call PATCH /goscheduler/schedules/$TWO "{\"scheduleTime\":$((NOW+7300))}"
# CronHubot jobs: one created paused (99) then resumed and changed, one deleted
HUB=$(call POST /cronjobs '{"name":"hub-1","url":"http://127.0.0.1:18192/hub?a=1","expression":"0 0 3 * * *","status":99,"retries":2,"group_id":5}' | id)
call PATCH /cronjobs/$HUB '{"status":1,"expression":"0 30 3 * * *","retries":0}'
HUB2=$(call POST /cronjobs '{"name":"hub-2","url":"http://127.0.0.1:18192/hub2","expression":"*/5 * * * * *"}' | id)
call DELETE /cronjobs/$HUB2
sleep 8
kill $PID; wait $PID 2>/dev/null || true
go run ./projections/testdata/dumplog $D/data > projections/testdata/golden-lifecycle.hex
echo "data dir: $D, $(wc -l < projections/testdata/golden-lifecycle.hex) events"
