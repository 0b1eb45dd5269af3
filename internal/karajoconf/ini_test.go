package karajoconf

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// flat renders sections as "sec|sub|key=value@line" lines, for comparison.
func flat(secs []*iniSection) []string {
	var out []string
	for _, s := range secs {
		head := s.name
		if s.hasSub {
			head += " " + `"` + s.sub + `"`
		}
		out = append(out, "["+head+"]@"+itoa(s.line))
		for _, k := range s.keys {
			out = append(out, "  "+k.name+"="+k.value+"@"+itoa(k.line))
		}
	}
	return out
}

func itoa(i int) string { return fmt.Sprintf("%02d", i) }

func TestParseINIReadsKarajosDialect(t *testing.T) {
	src := "# a comment\n" +
		"; another\n" +
		"[karajo]\n" +
		"name = My   karajo   # blanks collapse, comment dropped\n" +
		"\n" +
		"  [Job.HTTP  \"Test \\\"fail\\\"\"] ; comment after header\n" +
		"description = The job to test \\\n" +
		" if it <b>fails</b>.\n" +
		"HTTP_Header = A: B\n" +
		"http_header = C: D\n" +
		"[job \"Test long running\"]\n" +
		"command = \"for ((x=0; x<9; x++)); do echo \\\"$x\\\"; done\"\n" +
		"command = echo \"Test job\"   done\n" +
		"command = printf 'a\\tb\\n'\n" +
		"secret =\n" +
		"quoted = \" keep  blanks \" ok\n" +
		"semi = a;b\n" +
		"quoted_semi = \"a;b\"#c\n" +
		"blanks = a \" \" b\r\n"
	secs, err := parseINI("karajo.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"[karajo]@03",
		"  name=My karajo@04",
		`[job.http "Test "fail""]@06`,
		"  description=The job to test if it <b>fails</b>.@07",
		"  http_header=A: B@09",
		"  http_header=C: D@10",
		`[job "Test long running"]@11`,
		`  command=for ((x=0; x<9; x++)); do echo "$x"; done@12`,
		"  command=echo Test job done@13",
		"  command=printf 'a\tb\n'@14",
		"  secret=@15",
		"  quoted= keep  blanks  ok@16",
		"  semi=a@17",
		"  quoted_semi=a;b@18",
		"  blanks=a  b@19",
	}
	if got := flat(secs); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseINIRefusesWithFileAndLine(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"key before section", "name = x\n", `k.conf:1: key "name" before any section`},
		{"key without =", "[karajo]\n\nis_development\n", `k.conf:3: key "is_development" has no '='`},
		{"bad escape", "[job \"a\"]\ncommand = grep '\\d' x\n", `k.conf:2: key "command": invalid escape \d`},
		{"unterminated quote", "[job \"a\"]\ncommand = echo \"hi\n", `k.conf:2: key "command": unterminated double quote`},
		{"section needs letter", "[1job]\n", "k.conf:1: bad section header"},
		{"unterminated section", "[job \"a\"\n", "k.conf:1: bad section header"},
		{"unterminated sub", "[job \"a]\n", "k.conf:1: bad section header (want [name] or [name \"sub\"]): unterminated subsection"},
		{"text after header", "[karajo] x\n", "k.conf:1: unexpected text after section header: x"},
		{"bad key char", "[karajo]\nna/me = x\n", `k.conf:2: bad line: invalid character '/' in key "na/"`},
		{"blank in key", "[karajo]\nmax job running = 2\n", `k.conf:2: bad line: text after key "max" where '=' should be`},
		{"key starts with digit", "[karajo]\n1name = x\n", "k.conf:2: bad line: a key must start with a letter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseINI("k.conf", []byte(c.src))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("err = %v, want it to start with %q", err, c.want)
			}
		})
	}
}

func TestParseINIContinuationKeepsTheKeysLine(t *testing.T) {
	secs, err := parseINI("k.conf", []byte("[job \"a\"]\ncommand = echo one \\\n  two \\\n  three\ninterval = 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`[job "a"]@01`, "  command=echo one two three@02", "  interval=1m@05"}
	if got := flat(secs); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Whatever the input, the reader answers sections or an error naming a
// line, and never panics.
func FuzzParseINI(f *testing.F) {
	for _, seed := range []string{
		"[karajo]\nname = x\n",
		"[job \"a\\\"b\"]\ncommand = \"a;b\" # c\ncommand = x \\\n y\n",
		"[job.http \"p\"]\nhttp_header = A: \"B \\t\"\n",
		"[a]\nk = \\",
		"\xef\xbb\xbf[a]\r\nk=v\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		secs, err := parseINI("f.conf", []byte(src))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		lines := strings.Count(src, "\n") + 1
		for _, s := range secs {
			for _, k := range s.keys {
				if k.line < s.line || k.line > lines {
					t.Fatalf("key %q at line %d, section at %d, %d lines", k.name, k.line, s.line, lines)
				}
			}
		}
	})
}
