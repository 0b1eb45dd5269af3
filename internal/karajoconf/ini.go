package karajoconf

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
)

// This file reads the INI dialect karajo uses: git-config syntax as read by
// pakakeh.go's lib/ini. It is a reader of our own because every error and
// every job must name its file and line, which the INI libraries at hand do
// not report, and because gopkg.in/ini.v1 reads a different dialect: it takes
// `[job "x"]` as a section literally named `job "x"`, keeps quotes in the
// middle of a value, and needs an option for repeated keys.
//
// The rules, as in git-config and lib/ini:
//   - `#` and `;` start a comment, at the start of a line or after a value,
//     unless inside double quotes.
//   - `[name]` or `[name "sub"]`: the name starts with a letter and holds
//     letters, digits, `-` and `.`, compared case-insensitively; the
//     subsection is case-sensitive, `\x` in it reads as `x`.
//   - `key = value`: the key starts with a letter and holds letters, digits,
//     `-`, `.` and `_`, compared case-insensitively. A repeated key gives
//     several values (lists such as `command`).
//   - Values: leading and trailing blanks are dropped, runs of blanks
//     outside quotes become one space, double quotes are removed (they only
//     protect blanks and comment characters), `\"`, `\\`, `\n`, `\t` and
//     `\b` are escapes, any other escape is an error, and a `\` at the end
//     of the line continues the value on the next one.
//
// Where we differ from lib/ini: a `key` line without `=` is refused (lib/ini
// keeps it but karajo never reads it), a UTF-8 byte order mark and CRLF line
// ends are accepted (lib/ini refuses a section header ending in CR).

// iniSection is one section header and the keys under it, in file order.
type iniSection struct {
	name   string // lower case
	sub    string // as written, escapes read
	hasSub bool
	line   int
	keys   []iniKey
}

// iniKey is one `key = value` line (or lines, when continued).
type iniKey struct {
	name  string // lower case
	value string
	line  int // the line the key is on
}

// parseINI reads src; file names the source in errors.
func parseINI(file string, src []byte) ([]*iniSection, error) {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	var (
		secs []*iniSection
		cur  *iniSection
	)
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		fail := func(format string, args ...any) error {
			return errorf(file, lineNo, format, args...)
		}
		s := strings.TrimLeft(lines[i], " \t")
		switch {
		case s == "", s[0] == '#', s[0] == ';':
			continue
		case s[0] == '[':
			sec, err := parseSectionHeader(s)
			if err != "" {
				return nil, fail("%s", err)
			}
			sec.line = lineNo
			secs = append(secs, sec)
			cur = sec
			continue
		}
		key, rest, err := splitKey(s)
		if err != "" {
			return nil, fail("%s", err)
		}
		if cur == nil {
			return nil, fail("key %q before any section", key)
		}
		if rest == "" {
			return nil, fail("key %q has no '=' (karajo ignores such a line; write %s = VALUE)", key, key)
		}
		// rest starts with '='. Gather the raw value, following continuations.
		raw, consumed, err := rawValue(rest[1:], lines[i+1:])
		if err != "" {
			return nil, fail("key %q: %s", key, err)
		}
		cur.keys = append(cur.keys, iniKey{name: strings.ToLower(key), value: cookValue(raw), line: lineNo})
		i += consumed
	}
	return secs, nil
}

// parseSectionHeader reads `[name]` or `[name "sub"]` and what may follow
// it (blanks and a comment). It returns a reason on error.
func parseSectionHeader(s string) (*iniSection, string) {
	const bad = "bad section header (want [name] or [name \"sub\"])"
	rs := []rune(s[1:])
	i := 0
	if i >= len(rs) || !unicode.IsLetter(rs[i]) {
		return nil, bad + ": the name must start with a letter right after '['"
	}
	for i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]) || rs[i] == '-' || rs[i] == '.') {
		i++
	}
	sec := &iniSection{name: strings.ToLower(string(rs[:i]))}
	if i < len(rs) && (rs[i] == ' ' || rs[i] == '\t') {
		for i < len(rs) && (rs[i] == ' ' || rs[i] == '\t') {
			i++
		}
		if i >= len(rs) || rs[i] != '"' {
			return nil, bad
		}
		i++
		var sub strings.Builder
		closed := false
		for i < len(rs) {
			r := rs[i]
			i++
			if r == '\\' {
				if i >= len(rs) {
					return nil, bad + ": unterminated subsection"
				}
				sub.WriteRune(rs[i])
				i++
				continue
			}
			if r == '"' {
				closed = true
				break
			}
			sub.WriteRune(r)
		}
		if !closed {
			return nil, bad + ": unterminated subsection"
		}
		sec.sub, sec.hasSub = sub.String(), true
	}
	if i >= len(rs) || rs[i] != ']' {
		return nil, bad
	}
	tail := strings.TrimLeft(string(rs[i+1:]), " \t")
	if tail != "" && tail[0] != '#' && tail[0] != ';' {
		return nil, "unexpected text after section header: " + tail
	}
	return sec, ""
}

// splitKey reads the key at the start of s. rest is "" (no '=' on the line,
// only blanks or a comment) or starts with '='.
func splitKey(s string) (key, rest, reason string) {
	rs := []rune(s)
	if !unicode.IsLetter(rs[0]) {
		return "", "", "bad line: a key must start with a letter"
	}
	i := 1
	for i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]) || rs[i] == '-' || rs[i] == '.' || rs[i] == '_') {
		i++
	}
	key = string(rs[:i])
	tail := strings.TrimLeft(string(rs[i:]), " \t")
	switch {
	case tail == "", tail[0] == '#', tail[0] == ';':
		return key, "", ""
	case tail[0] == '=':
		return key, tail, ""
	}
	if rs[i] == ' ' || rs[i] == '\t' {
		return "", "", fmt.Sprintf("bad line: text after key %q where '=' should be", key)
	}
	return "", "", fmt.Sprintf("bad line: invalid character %q in key %q", rs[i], key+string(rs[i]))
}

// rawValue gathers the value text after '=' up to an unquoted comment or the
// end of the line, following `\` continuations into next. It checks the
// escapes and the quotes, and keeps `\`-sequences for cookValue. consumed is
// the number of continuation lines used.
func rawValue(first string, next []string) (raw string, consumed int, reason string) {
	var b strings.Builder
	quoted := false
	s := first
	for {
		i := 0
		continued := false
	scan:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 == len(s) {
					continued = true
					break scan
				}
				switch s[i+1] {
				case '\\', '"', 'n', 't', 'b':
					b.WriteByte(c)
					b.WriteByte(s[i+1])
					i++
				default:
					return "", 0, "invalid escape \\" + string(s[i+1]) + " (only \\\\, \\\", \\n, \\t, \\b; quote the value is not enough)"
				}
			case c == '"':
				quoted = !quoted
				b.WriteByte(c)
			case (c == '#' || c == ';') && !quoted:
				break scan
			default:
				b.WriteByte(c)
			}
		}
		if !continued {
			break
		}
		if consumed == len(next) {
			break // a '\' on the last line of the file continues into nothing
		}
		// The line break itself is dropped, as in lib/ini; a blank at the
		// start of the next line separates the words.
		s = next[consumed]
		consumed++
	}
	if quoted {
		return "", 0, "unterminated double quote"
	}
	return b.String(), consumed, ""
}

// cookValue turns a checked raw value into the value: outer blanks dropped,
// inner unquoted runs of blanks made one space, quotes removed, escapes read.
// As in lib/ini, only a plain character ends a run of blanks: `a " " b`
// reads as "a  b".
func cookValue(raw string) string {
	raw = strings.Trim(raw, " \t")
	var b strings.Builder
	quoted, blank := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\':
			i++
			switch raw[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			default: // '\\', '"'
				b.WriteByte(raw[i])
			}
		case (c == ' ' || c == '\t') && quoted:
			b.WriteByte(c)
		case c == ' ' || c == '\t':
			if !blank && b.Len() > 0 {
				b.WriteByte(' ')
			}
			blank = true
		default:
			b.WriteByte(c)
			blank = false
		}
	}
	return b.String()
}
