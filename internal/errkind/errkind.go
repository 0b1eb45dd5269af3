// Package errkind names the few kinds of failure a caller must tell apart,
// whichever layer an error comes from: input that is refused, something
// that does not exist, a request that conflicts with the current state, a
// cluster that cannot take the request now. Packages wrap their errors
// with a kind; the edges (HTTP answers, command-line tools) decide what a
// kind means to their users in one place, and every error without a kind
// is an internal failure.
package errkind

import (
	"errors"
	"fmt"
)

// The kinds. Test with errors.Is.
var (
	// Invalid: the input is refused as it is; sending it again fails again.
	Invalid = errors.New("invalid")
	// NotFound: what the request names does not exist.
	NotFound = errors.New("not found")
	// Conflict: the request is well formed but the current state refuses it.
	Conflict = errors.New("conflict")
	// TooLarge: the input is larger than allowed.
	TooLarge = errors.New("too large")
	// Unavailable: the cluster cannot take the request now (no leader, a
	// leadership change, shutting down); the same request may succeed later.
	Unavailable = errors.New("unavailable")
	// Unauthenticated: the request does not say who makes it, or with a
	// credential nobody knows.
	Unauthenticated = errors.New("unauthenticated")
	// Forbidden: who makes the request may not do it.
	Forbidden = errors.New("forbidden")
	// TooMany: the caller sends more requests than it may.
	TooMany = errors.New("too many requests")
	// InsufficientStorage: the node's disk is (nearly) full; writes are
	// refused until space returns, reads still work.
	InsufficientStorage = errors.New("insufficient storage")
)

// kindError reads as its message alone, and is (errors.Is) its kind and
// whatever it wraps.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.cause }

// New returns an error of kind reading msg.
func New(kind error, msg string) error { return &kindError{kind: kind, msg: msg} }

// Newf returns an error of kind reading the formatted message; a %w verb
// in it wraps its operand as fmt.Errorf does.
func Newf(kind error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &kindError{kind: kind, msg: err.Error(), cause: errors.Unwrap(err)}
}
