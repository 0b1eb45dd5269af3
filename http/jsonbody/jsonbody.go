// Package jsonbody reads JSON request bodies for every API: what is not
// UTF-8, escapes half a surrogate pair, is not one JSON value of the
// target's shape, or is larger than the server's bound is refused with a
// message that names the problem, never altered into something else.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/chronicle-sched/chronicle/http/respond"
)

// Decode reads a JSON body into v, answering every way it can be wrong
// with a message that names the problem: 413 past the server's bound, 400
// for the rest.
func Decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return respond.Status(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", maxErr.Limit)
	case err != nil:
		return respond.BadRequest("reading the request body: %v", err)
	}
	// Go's JSON decoder would replace what is not UTF-8 (raw bytes, or an
	// escaped half of a surrogate pair) with U+FFFD: refused here instead,
	// so what is stored is what was sent.
	if !utf8.Valid(body) {
		return respond.BadRequest("request body is not valid UTF-8 (at byte %d)", invalidUTF8At(body))
	}
	if at := loneSurrogateAt(body); at >= 0 {
		return respond.BadRequest("request body escapes half a UTF-16 surrogate pair at byte %d: it is not a character", at)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return respond.BadRequest("request body is empty: a JSON object is required")
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				return respond.BadRequest("request body must be a JSON object, not %s", typeErr.Value)
			}
			return respond.BadRequest("field %s must be %s, not %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		case errors.As(err, &syntaxErr):
			return respond.BadRequest("malformed JSON at byte %d: %v", syntaxErr.Offset, err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return respond.BadRequest("malformed JSON: the body ends too early")
		}
		return respond.BadRequest("malformed JSON: %v", err)
	}
	if dec.More() {
		return respond.BadRequest("malformed JSON: unexpected data after the object")
	}
	return nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// loneSurrogateAt returns the offset of a \u escape of a UTF-16 surrogate
// that is not half of a pair, or -1. Backslashes occur in JSON only inside
// strings, so no string tracking is needed.
func loneSurrogateAt(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // an escaped character, possibly a backslash
			continue
		}
		c, ok := hex4(b, i+2)
		switch {
		case !ok:
			return -1 // malformed: the decoder says so
		case c >= 0xDC00 && c <= 0xDFFF:
			return i
		case c >= 0xD800 && c <= 0xDBFF:
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' {
				return i
			}
			if lo, ok := hex4(b, i+8); !ok || lo < 0xDC00 || lo > 0xDFFF {
				return i
			}
			i += 11
		default:
			i += 5
		}
	}
	return -1
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var c rune
	for _, h := range b[at : at+4] {
		c <<= 4
		switch {
		case '0' <= h && h <= '9':
			c |= rune(h - '0')
		case 'a' <= h && h <= 'f':
			c |= rune(h - 'a' + 10)
		case 'A' <= h && h <= 'F':
			c |= rune(h - 'A' + 10)
		default:
			return 0, false
		}
	}
	return c, true
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	}
	return goKind
}
