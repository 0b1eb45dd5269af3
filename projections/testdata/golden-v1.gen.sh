#!/usr/bin/env bash
# Produces a small event log covering every event type (see projections/testdata/README.md).
set -euo pipefail
BIN=${BIN:-bin/chronicle}
D=$(mktemp -d)
H=127.0.0.1:18181
start() { $BIN serve --data-dir $D --http-addr $H --raft-addr 127.0.0.1:17171 --node-id golden1 --log-level error \
  --misfire-threshold 1s --callback-attempts 2 --callback-backoff 50ms --event-retention ${RET:-0} --retention-check-interval 300ms & echo $! > $D/pid;
  for i in $(seq 50); do curl -sf $H/goscheduler/healthcheck >/dev/null && break; sleep 0.2; done; }
stop() { kill $(cat $D/pid); wait $(cat $D/pid) 2>/dev/null || true; }
post() { curl -s -XPOST "$H$1" -H 'Content-Type: application/json' -d "${2:-}"; echo; }
# receiver: python http server answering 200 on /ok and 500 on /fail
python3 - <<'PY' &
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def handle_one(self): pass
    def do_any(self):
        n=int(self.headers.get('Content-Length') or 0); self.rfile.read(n)
        self.send_response(500 if self.path.startswith('/fail') else 200); self.end_headers(); self.wfile.write(b'ok')
    do_GET=do_POST=do_PUT=do_any
    def log_message(self,*a): pass
http.server.ThreadingHTTPServer(('127.0.0.1',18182),H).serve_forever()
PY
RPID=$!
trap "kill $RPID" EXIT
RET=0 start
cb() { echo "{\"type\":\"http\",\"details\":{\"url\":\"http://127.0.0.1:18182/$1\",\"method\":\"$2\",\"headers\":{\"X-Golden\":\"1\"}}}"; }
post /goscheduler/apps '{"appId":"golden","partitions":2,"active":true}'
post /goscheduler/apps '{"appId":"sleepy","partitions":1,"active":false}'
post /goscheduler/apps/sleepy/activate
# closed early: retention removes these two later, nothing else
post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"ephemeral\",\"scheduleTime\":$(( $(date +%s)+1 )),\"callback\":$(cb ok POST)}"
EPH=$(post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"ephemeral-del\",\"scheduleTime\":$(( $(date +%s)+99 )),\"callback\":$(cb ok POST)}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["data"]["schedule"]["scheduleId"])')
curl -s -XDELETE $H/goscheduler/schedules/$EPH; echo
sleep 25
NOW=$(date +%s)
post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"ok\",\"scheduleTime\":$((NOW+1)),\"callback\":$(cb ok POST)}"
post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"fail\",\"scheduleTime\":$((NOW+1)),\"callback\":$(cb fail PUT)}"
DEL=$(post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"del\",\"scheduleTime\":$((NOW+3600)),\"callback\":$(cb ok GET)}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["data"]["schedule"]["scheduleId"])')
post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"future\",\"scheduleTime\":$((NOW+7200)),\"callback\":$(cb ok GET)}"
post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"future2\",\"scheduleTime\":$((NOW+7201)),\"callback\":$(cb ok GET)}"
CRON=$(post /goscheduler/schedules "{\"appId\":\"sleepy\",\"payload\":\"tick\",\"cronExpression\":\"* * * * * *\",\"callback\":$(cb ok POST)}" | python3 -c 'import json,sys;print(json.load(sys.stdin)["data"]["schedule"]["scheduleId"])')
curl -s -XDELETE $H/goscheduler/schedules/$DEL; echo
sleep 3.5
curl -s -XDELETE $H/goscheduler/schedules/$CRON; echo
fmt() { date -u -d @$1 '+%Y-%m-%d%%20%H:%M:%S'; }
post "/goscheduler/apps/golden/bulk-action/reconcile?status=FAILURE&start_time=$(fmt $NOW)&end_time=$(fmt $((NOW+10)))"
post "/goscheduler/apps/golden/bulk-action/delete?status=SCHEDULED&start_time=$(fmt $((NOW+7201)))&end_time=$(fmt $((NOW+7201)))"
sleep 1
# a run that falls due while the node is down is missed
post /goscheduler/schedules "{\"appId\":\"golden\",\"payload\":\"missed\",\"scheduleTime\":$(( $(date +%s)+1 )),\"callback\":$(cb ok POST)}"
stop; sleep 3
RET=20s start
sleep 3
post /goscheduler/apps/sleepy/deactivate
stop
echo "data dir: $D"
echo $D > /tmp/golden/dir
