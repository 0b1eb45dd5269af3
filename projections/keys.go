package projections

import "encoding/binary"

// Key layout. Every projection key starts with Prefix, so the whole read
// model can be checksummed, dropped and rebuilt as one range. App ids never
// contain NUL (the API rejects them), so NUL separates an app id from what
// follows it.
//
//	p/app/<app>                          App
//	p/sch/<schedule>                     Schedule
//	p/run/<cron>\0<T:8>                  Run (cron occurrence records)
//	p/rid/<runId>                        <cron>\0<T:8> (run id → run record)
//	p/at/<app>\0<T:8><item>              'o'+schedule | 'r'+<cron>\0<T:8>  (schedules and runs by time)
//	p/cron/<app>\0<cron>                 "" (crons of an app)
//	p/pend/<runId>                       PendingRun
//	p/due/<app>\0<part:4><dueMs:8><run>  "" (pending, not fired, by due time)
//	p/infl/<app>\0<part:4><run>          "" (fired, no outcome yet)
//	p/psch/<schedule>\0<run>             "" (pending runs of a schedule)
//	p/node/<nodeId>                      Node (cluster members' API addresses)
//	p/sev/<schedule>\0<seq:8>            <type:2> (history: events about a schedule, its runs included)
//	p/aev/<app>\0<seq:8>                 <type:2> (history: events about an app and its schedules)
//	p/closed/<closedMs:8><schedule>      "" (closed schedules by when they closed: retention candidates)
//	p/tok/<tokenId>                      Token (API tokens, revoked ones included)
//	p/tokh/<hash>                        <tokenId> (live tokens by the hash of their secret)
//	p/name/<app>\0<name>                 <schedule> (named schedules not deleted, by name)
//	p/sig/<digest>                       <until:8> (spent signatures: signatures.go)
//	p/sigx/<until:8><digest>             "" (spent signatures by expiry)
//	p/out/<runId>                        <cut:1><output> (runs' outputs: outputs.go)
//	p/outs/<schedule>\0<seq:8>           <runId> (a schedule's outputs, oldest first)
//	p/job/<id:8>                         Job (workflow jobs: jobs.go)
//	p/sjob/<schedule>\0<id:8>            "" (a schedule's jobs, oldest first)
//
// A triggered run's record is at p/run/<cron>\0<T:8><runId>: after the
// occurrence of the same second, if any, and apart from it.
const Prefix = "p/"

const (
	pApp  = "p/app/"
	pSch  = "p/sch/"
	pRun  = "p/run/"
	pRid  = "p/rid/"
	pAt   = "p/at/"
	pCron = "p/cron/"
	pPend = "p/pend/"
	pDue  = "p/due/"
	pInfl = "p/infl/"
	pPsch = "p/psch/"
	pNode = "p/node/"
	pSev  = "p/sev/"
	pAev  = "p/aev/"
	pClos = "p/closed/"
	pTok  = "p/tok/"
	pTokh = "p/tokh/"
	pName = "p/name/"
	pSig  = "p/sig/"
	pSigx = "p/sigx/"
	pOut  = "p/out/"
	pOuts = "p/outs/"
	pJob  = "p/job/"
	pSjob = "p/sjob/"
	pLjob = "p/ljob/"
)

// projectionPrefixes lists every read model, in checksum order.
var projectionPrefixes = []string{pApp, pSch, pRun, pRid, pAt, pCron, pPend, pDue, pInfl, pPsch, pNode, pSev, pAev, pClos,
	pTok, pTokh, pName, pSig, pSigx, pOut, pOuts, pJob, pSjob, pLjob}

func join(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func u32(v uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return b[:]
}

var nul = []byte{0}

func nodeKey(id string) []byte           { return join([]byte(pNode), []byte(id)) }
func tokenKey(id string) []byte          { return join([]byte(pTok), []byte(id)) }
func tokenHashKey(hash string) []byte    { return join([]byte(pTokh), []byte(hash)) }
func appKey(app string) []byte           { return join([]byte(pApp), []byte(app)) }
func scheduleKey(id string) []byte       { return join([]byte(pSch), []byte(id)) }
func runRef(cron string, t int64) []byte { return join([]byte(cron), nul, u64(uint64(t))) }
func runKey(cron string, t int64) []byte { return join([]byte(pRun), runRef(cron, t)) }

// runRefOf is where run r's record is, after pRun.
func runRefOf(r Run) []byte {
	if r.Triggered {
		return join(runRef(r.ScheduleID, r.ScheduledTime), []byte(r.RunID))
	}
	return runRef(r.ScheduleID, r.ScheduledTime)
}
func nameKey(app, name string) []byte { return join([]byte(pName), []byte(app), nul, []byte(name)) }
func runsOfCron(cron string) []byte   { return join([]byte(pRun), []byte(cron), nul) }
func ridKey(runID string) []byte      { return join([]byte(pRid), []byte(runID)) }
func atPrefix(app string) []byte      { return join([]byte(pAt), []byte(app), nul) }
func atKey(app string, t int64, item string) []byte {
	return join(atPrefix(app), u64(uint64(t)), []byte(item))
}
func cronPrefix(app string) []byte       { return join([]byte(pCron), []byte(app), nul) }
func cronIndexKey(app, id string) []byte { return join(cronPrefix(app), []byte(id)) }
func pendKey(runID string) []byte        { return join([]byte(pPend), []byte(runID)) }
func duePrefix(app string, part int) []byte {
	return join([]byte(pDue), []byte(app), nul, u32(uint32(part)))
}
func dueKey(p PendingRun) []byte {
	return join(duePrefix(p.AppID, p.Partition), u64(uint64(p.DueMs)), []byte(p.RunID))
}
func inflPrefix(app string, part int) []byte {
	return join([]byte(pInfl), []byte(app), nul, u32(uint32(part)))
}
func inflKey(p PendingRun) []byte   { return join(inflPrefix(p.AppID, p.Partition), []byte(p.RunID)) }
func pschPrefix(id string) []byte   { return join([]byte(pPsch), []byte(id), nul) }
func pschKey(id, run string) []byte { return join(pschPrefix(id), []byte(run)) }

func sevPrefix(id string) []byte           { return join([]byte(pSev), []byte(id), nul) }
func sevKey(id string, seq uint64) []byte  { return join(sevPrefix(id), u64(seq)) }
func aevPrefix(app string) []byte          { return join([]byte(pAev), []byte(app), nul) }
func aevKey(app string, seq uint64) []byte { return join(aevPrefix(app), u64(seq)) }
func closedKey(ms int64, id string) []byte { return join([]byte(pClos), u64(uint64(ms)), []byte(id)) }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
