package karajoconf

// NormalizeID turns a job's name into its id as karajo does (pakakeh.go's
// html.NormalizeForID): ASCII letters are lower-cased, ASCII digits, '-' and
// '_' are kept, and every other byte becomes '_' (so a non-ASCII letter of
// two bytes in UTF-8 becomes "__"). Nothing is trimmed: "Deploy " is
// "deploy_". An id that does not start with a letter or '_' gets a '_' in
// front ("1st" is "_1st"), and the empty name is "_".
func NormalizeID(name string) string {
	out := make([]byte, 0, len(name)+1)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			out = append(out, c+('a'-'A'))
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			out = append(out, c)
		default:
			out = append(out, '_')
		}
	}
	if len(out) == 0 || !(out[0] >= 'a' && out[0] <= 'z' || out[0] == '_') {
		out = append([]byte{'_'}, out...)
	}
	return string(out)
}
