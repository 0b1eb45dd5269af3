package karajo

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-sched/chronicle/actors/delivery"
	"github.com/chronicle-sched/chronicle/projections"
)

// EpochWindow is how far a request's _karajo_epoch may be from the
// server's clock (karajo does not check it at all).
const EpochWindow = 5 * time.Minute

// checkSign reports whether sig is karajo's signature of data with secret:
// lower-case hex HMAC-SHA256, compared exactly, as karajo does.
func checkSign(secret string, data []byte, sig string) bool {
	if sig == "" || secret == "" {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(delivery.SignHMAC(secret, data)))
}

// epochOf reads a request's _karajo_epoch and checks it is within
// EpochWindow of now.
func epochOf(raw string, now time.Time) (time.Time, error) {
	if raw == "" {
		return time.Time{}, errors.New("_karajo_epoch (unix seconds, signed with the request) is required")
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("_karajo_epoch %q is not unix seconds", clip(raw))
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > EpochWindow || d < -EpochWindow {
		return time.Time{}, fmt.Errorf("_karajo_epoch %d is %s from the server's clock: at most %s is accepted",
			sec, d.Round(time.Second).Abs(), EpochWindow)
	}
	return at, nil
}

// spend records sig as used, cluster-wide, until its signed epoch leaves
// the window (a request carrying it is refused from then on anyway); a
// second use is a replay (ok false). The record is the signature's alone,
// not the endpoint's: karajo signs no path, so one signed body must not
// serve a pause, then a resume, then a cancel.
func (a *API) spend(r *requestCtx, sig string, epoch time.Time) (ok bool, err error) {
	until := epoch.Add(EpochWindow + time.Second)
	if !until.After(r.now) {
		return false, nil // cannot happen: epochOf checked the window
	}
	h := sha256.Sum256([]byte("karajo\x00" + sig))
	err = a.cmd.SpendSignature(r.ctx, hex.EncodeToString(h[:]), until)
	if errors.Is(err, projections.ErrSignatureSpent) {
		return false, nil
	}
	return err == nil, err
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
