package redact

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"math/bits"
	"net/netip"
	"regexp"
	"strings"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// ClassForeignTenant is the audit class of another tenant's identifier.
const ClassForeignTenant = "foreign_tenant"

// class indexes policy.RedactionClasses; classForeign follows them, and
// tenant-defined rules follow numClasses (rules.go).
type class uint16

const (
	clsEmail class = iota
	clsCreditCard
	clsIBAN
	clsIPv4
	clsIPv6
	clsSSN
	clsPhone
	clsJWT
	clsAuthHeader
	clsURLPassword
	clsSecretPair
	clsPrivateKey
	clsAWSKey
	clsGitHubToken
	clsSlackToken
	clsStripeKey
	clsGoogleAPIKey
	clsUsername
	clsEndpoint
	classForeign
	numClasses
)

func (c class) String() string {
	if c == classForeign {
		return ClassForeignTenant
	}
	return policy.RedactionClasses[c]
}

// hit is one finding: bytes [start, end) of the string hold a value of cls.
type hit struct {
	start, end int
	cls        class
}

// detector finds one class. Its regexp runs only when the string passed the
// prefilter: one of its keywords occurs, or (for digit classes) enough digits.
type detector struct {
	cls      class
	keywords []string
	// minDigits > 0 gates on the longest run of digits (with at most two
	// separators " -.()+/" between neighbours) instead of keywords.
	minDigits int
	// minColons > 0 gates on at least that many ':' (IPv6, .pgpass lines).
	minColons int
	// scan, when set, must also pass: a cheap hand-written look for the
	// shape of a value, so the regexp runs only where one may be.
	scan func(s string) bool
	// near, when set, must pass at one of the keyword hits (end is the
	// offset just past the keyword).
	near func(s string, end int) bool
	re   *regexp.Regexp
	// match, when set, finds exactly what re finds in s[lo:hi], by hand:
	// Go's backtracker took about a microsecond per e-mail address, the
	// most a record that needs redacting cost. re stays the reference
	// (TestMatchersAreTheirExpressions).
	match func(dst []hit, s string, lo, hi int) []hit
	// group is the submatch that holds the value (0 = whole match).
	group int
	// assigned, when set, replaces group: the expression matches a name
	// and its assignment, and the value is the quoted or bare token that
	// follows (assignedValue). quotedOnly: the assignment was only white
	// space, so only a quoted value counts ("password \"x\"").
	assigned, quotedOnly bool
	// valid confirms a match; it sees the whole string for context.
	valid func(s string, a, b int) bool
	// anchor, when set, is a byte every match holds, and within the bytes
	// every match is made of: the expression (not match, which stops at
	// such a run's ends itself) runs only on the longest runs of within
	// bytes around each anchor. That finds what a run on the
	// whole string finds, when within holds every word byte (a byte outside
	// it is a \b boundary in both) and the expression has no ^ or $; on a
	// log line it is several times cheaper (TestAnchoredRunsFindTheSame).
	anchor byte
	within func(byte) bool
}

// reIBAN is the IBAN detector's expression (findIBANs is it by hand).
var reIBAN = regexp.MustCompile(`(?i)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`)

// findIBANs appends the IBANs in s[lo:hi] as the IBAN detector finds them
// (reIBAN's matches that validIBAN accepts). A hex id under a phone's or
// an IBAN's prefilter ("ff648458e96175da" starts like one) cost the
// expression about 0.7 us and two allocations; this costs neither.
func findIBANs(dst []hit, s string, lo, hi int) []hit {
	t := s[lo:hi]
	for i := 0; i < len(t); i++ {
		// The expression folds case by Unicode: the Kelvin sign and the
		// long s match [A-Z] too. Such text takes the expression.
		if t[i] >= 0x80 {
			for _, loc := range reIBAN.FindAllStringIndex(t, -1) {
				if validIBAN(t[loc[0]:loc[1]]) {
					dst = append(dst, hit{lo + loc[0], lo + loc[1], clsIBAN})
				}
			}
			return dst
		}
	}
	for p := 0; p+4 <= len(t); {
		if end, ok := ibanAt(t, p); ok {
			if validIBAN(t[p:end]) {
				dst = append(dst, hit{lo + p, lo + end, clsIBAN})
			}
			p = end
			continue
		}
		p++
	}
	return dst
}

// ibanAt is where reIBAN's match at t[p:] ends, on ASCII text, read as
// the backtracker reads it:
//
//	\b [A-Z]{2} \d{2} ( ?[A-Z0-9]{4}){2,7} ( ?[A-Z0-9]{1,4})? \b
//
// A group takes the space when there is one (the four after it cannot be
// a space), so the groups are forced; they repeat greedily up to seven
// and give back one at a time. After k groups the tail, when it can, takes
// all of the letters and digits that follow (fewer would leave one
// before a boundary the expression needs), so it matches when there are 1
// to 4 of them ending a word; otherwise the k groups end the match if they
// end a word.
func ibanAt(t string, p int) (int, bool) {
	if p+4 > len(t) || p > 0 && !regexpBoundary(t[p-1]) ||
		!isAlpha(t[p]) || !isAlpha(t[p+1]) || !isDigit(t[p+2]) || !isDigit(t[p+3]) {
		return 0, false
	}
	var ends [8]int // ends[k]: the end of k groups
	k, q := 0, p+4
	for k < 7 {
		r := q
		if r < len(t) && t[r] == ' ' {
			r++
		}
		if r+4 > len(t) || !isWord(t[r]) || !isWord(t[r+1]) || !isWord(t[r+2]) || !isWord(t[r+3]) {
			break
		}
		q = r + 4
		k++
		ends[k] = q
	}
	for ; k >= 2; k-- {
		q := ends[k]
		r := q
		if r < len(t) && t[r] == ' ' {
			r++
		}
		n := 0
		for r+n < len(t) && n <= 4 && isWord(t[r+n]) {
			n++
		}
		if 1 <= n && n <= 4 && (r+n == len(t) || regexpBoundary(t[r+n])) {
			return r + n, true
		}
		if q == len(t) || regexpBoundary(t[q]) {
			return q, true
		}
	}
	return 0, false
}

// findEmails appends the e-mail addresses in s[lo:hi] as the email
// detector's expression finds them (leftmost first, its quantifiers
// greedy):
//
//	[A-Za-z0-9._%+\-]{1,64}@ label (\. label)* \. [A-Za-z]{2,24} \b
//
// where a label is 1 to 64 letters, digits and hyphens that starts and
// ends with a letter or digit. Read as the backtracker reads it: a label
// is followed by a dot or by nothing that matches, so each label is a whole
// run between dots; the labels repeat greedily and give back one at a time
// until a dot is followed by 2 to 24 letters that end a word; the local
// part is the longest run of at most 64 local bytes before the '@', so
// the leftmost address is that of the first '@' whose domain matches.
func findEmails(dst []hit, s string, lo, hi int) []hit {
	from := lo
	for from < hi {
		j := strings.IndexByte(s[from:hi], '@')
		if j < 0 {
			break
		}
		at := from + j
		start := at
		for start > from && at-start < 64 && isEmailLocal(s[start-1]) {
			start--
		}
		end, ok := -1, start < at
		if ok {
			end, ok = emailDomain(s, at+1, hi)
		}
		if !ok {
			from = at + 1
			continue
		}
		dst = append(dst, hit{start, end, clsEmail})
		from = end
	}
	return dst
}

// emailDomain returns the end of the domain the email expression matches
// at s[x:hi].
func emailDomain(s string, x, hi int) (int, bool) {
	var dotBuf [8]int
	dots := dotBuf[:0]
	for {
		r, ok := emailLabel(s, x, hi)
		if !ok {
			break
		}
		dots = append(dots, r)
		x = r + 1
	}
	// The first label must end at a dot; the top-level domain follows the
	// last dot it can.
	for k := len(dots) - 1; k >= 0; k-- {
		t := dots[k] + 1
		for t < hi && t-dots[k] <= 25 && isAlpha(s[t]) {
			t++
		}
		if n := t - dots[k] - 1; n >= 2 && n <= 24 && (t == hi || !isWordByte(s[t])) {
			return t, true
		}
	}
	return 0, false
}

// emailLabel returns the dot that ends the label at s[x:hi], if a label
// (1 to 64 letters, digits and hyphens, first and last not a hyphen)
// ending at a dot starts there.
func emailLabel(s string, x, hi int) (int, bool) {
	if x >= hi || !isWord(s[x]) {
		return 0, false
	}
	r := x + 1
	for r < hi && (isWord(s[r]) || s[r] == '-') {
		r++
	}
	return r, r-x <= 64 && isWord(s[r-1]) && r < hi && s[r] == '.'
}

// isEmailLocal reports a byte of an address's local part.
func isEmailLocal(c byte) bool { return emailLocal[c] }

// isWordByte reports a byte of a \b word: a letter, digit or '_'.
func isWordByte(c byte) bool { return isWord(c) || c == '_' }

// isEmailByte reports a byte of an e-mail address as the email expression
// reads one: its local part's [A-Za-z0-9._%+-], which hold its domain's,
// and '@'.
func isEmailByte(c byte) bool { return isWord(c) || strings.IndexByte("._%+-@", c) >= 0 }

// valueOnly adapts a validator that needs only the matched value.
func valueOnly(f func(string) bool) func(string, int, int) bool {
	return func(s string, a, b int) bool { return f(s[a:b]) }
}

var detectors = []detector{
	{cls: clsEmail, keywords: []string{"@"}, anchor: '@', within: isEmailByte, match: findEmails,
		re: regexp.MustCompile(`[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`)},
	{cls: clsCreditCard, minDigits: 12, scan: cardShape,
		re: regexp.MustCompile(`\b(?:\d[ \-]?){11,18}\d\b`), valid: validCard},
	{cls: clsIBAN, minDigits: 4, match: findIBANs, re: reIBAN, valid: valueOnly(validIBAN)},
	{cls: clsIPv4, minDigits: 4,
		re: regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`), valid: valueOnly(validIPv4)},
	{cls: clsIPv6, minColons: 2, scan: ipv6Shape,
		re: regexp.MustCompile(`(?i)(?:[0-9a-f]{1,4}:|:)(?:[0-9a-f]{0,4}:){1,6}(?:[0-9a-f]{1,4}|:)(?:(?:\d{1,3}\.){3}\d{1,3})?`), valid: validIPv6},
	{cls: clsSSN, minDigits: 9, scan: ssnShape,
		re: regexp.MustCompile(`\b\d{3}([- ])\d{2}([- ])\d{4}\b|\b\d{9}\b`), valid: valueOnly(validSSN)},
	{cls: clsPhone, minDigits: 7, scan: phoneShape,
		re: regexp.MustCompile(`(?:\+|\b)\(?\d{1,4}\)?(?:[ .\-]?\(?\d{1,4}\)?){1,6}(?:\s?(?:x|ext\.?)\s?\d{1,5})?\b`), valid: validPhone},
	{cls: clsJWT, keywords: []string{"eyj"},
		re: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*`), valid: validJWT},
	{cls: clsAuthHeader, keywords: []string{"bearer", "basic", "token", "digest"}, near: authValueNear,
		re: regexp.MustCompile(`(?i)\b(?:bearer|basic|token|digest)\s+([A-Za-z0-9._~+/\-]{8,}=*)`), group: 1},
	{cls: clsURLPassword, keywords: []string{"://"}, near: userinfoNear,
		re: regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^:/@\s"']{1,128}:([^@/\s"']{1,128})@`), group: 1},
	{cls: clsSecretPair, keywords: secretKeywords, near: assignmentNear,
		re: regexp.MustCompile(`(?i)` + secretName + `[\w.\-]{0,20}` + assignment), assigned: true, valid: valueOnly(validSecretValue)},
	// password "x" (esmtprc, prose): a quoted value after white space.
	{cls: clsSecretPair, keywords: []string{"pass", "pwd", "secret"}, near: spaceQuoteNear,
		re: regexp.MustCompile(`(?i)(?:passw(?:or)?d|passphrase|pwd|pass|secret)[ \t]{1,3}`), assigned: true, quotedOnly: true, valid: valueOnly(validSecretValue)},
	// Password hashes (bcrypt, crypt(3) MD5/SHA/yescrypt, Apache apr1,
	// argon2) are as good as passwords to an offline attacker.
	{cls: clsSecretPair, keywords: []string{"$2a$", "$2b$", "$2y$"},
		re: regexp.MustCompile(`\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}`)},
	{cls: clsSecretPair, keywords: []string{"$1$", "$5$", "$6$", "$apr1$", "$y$", "$argon2"},
		re: regexp.MustCompile(`\$(?:1|5|6|apr1)\$(?:rounds=\d{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86}|\$y\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{1,64}\$[./A-Za-z0-9]{43}|\$argon2(?:id|i|d)\$v=\d{1,3}\$m=\d{1,9},t=\d{1,9},p=\d{1,3}\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}`)},
	// PostgreSQL's password file line, host:port:database:user:password.
	{cls: clsSecretPair, minColons: 4, scan: pgpassShape,
		re: regexp.MustCompile(`(?m)^[ \t]*[A-Za-z0-9.\-*\[\]_]{1,253}:(?:\d{1,5}|\*):[^:\s]{1,64}:[^:\s]{1,64}:([^:\s]{1,256})[ \t]*\r?$`), group: 1, valid: validPgpass},
	{cls: clsPrivateKey, keywords: []string{"putty-user-key-file"},
		re: regexp.MustCompile(`PuTTY-User-Key-File-\d: .*`)},
	{cls: clsPrivateKey, keywords: []string{"-----begin"},
		re: regexp.MustCompile(`-----BEGIN[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[ A-Z0-9_\-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\z)`)},
	{cls: clsAWSKey, keywords: []string{"akia", "asia", "abia", "acca", "a3t"},
		re: regexp.MustCompile(`\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b`)},
	{cls: clsGitHubToken, keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b`)},
	{cls: clsSlackToken, keywords: []string{"xox", "hooks.slack.com"},
		re: regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9\-]{10,}|hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/]{20,}`)},
	{cls: clsStripeKey, keywords: []string{"sk_test_", "sk_live_", "sk_prod_", "rk_test_", "rk_live_", "rk_prod_"},
		re: regexp.MustCompile(`\b(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}\b`)},
	{cls: clsGoogleAPIKey, keywords: []string{"aiza"},
		re: regexp.MustCompile(`\bAIza[A-Za-z0-9_\-]{35}`)},
	// Account names given in key/value form: user=, "userName":, <User>,
	// DB_USERNAME=, login:, nick=.
	{cls: clsUsername, keywords: []string{"user", "login", "nick"}, near: assignmentNear,
		re: regexp.MustCompile(`(?i)(?:user(?:[_\-]?name)?|login|nick(?:name)?)` + assignment), assigned: true, valid: valueOnly(validNameValue)},
	// Where a credential works, given in key/value form: hosts, database
	// names, buckets and remote paths (DB_HOST=, "serverHost":, <Host>,
	// S3_BUCKET=, "remotePath":).
	{cls: clsEndpoint, keywords: []string{"host", "database", "db", "bucket", "remote", "endpoint"}, near: assignmentNear,
		re: regexp.MustCompile(`(?i)(?:host(?:[_\-]?name)?|database(?:[_\-]?name)?|db(?:[_\-]?name)?|bucket(?:[_\-]?name)?|remote(?:[_\-]?path)?|endpoint)` + assignment), assigned: true, valid: valueOnly(validNameValue)},
}

// secretName names a secret in key/value text; secretKeywords are the
// prefilter's literals for it.
const secretName = `(?:passw(?:or)?d|passphrase|pwd|pass|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|secret[_\-]?key|credentials?|auth|[_.\-](?:key|salt))`

var secretKeywords = []string{"pass", "pwd", "secret", "token", "key", "credential", "auth", "salt"}

// assignment follows a name: an operator (= : => :=) with an optional
// closing quote before it, a PHP define's "', '", or a markup close
// (<Pass encoding="x">). assignedValue reads the value after it.
const assignment = `(?:["']?\s{0,3}(?:=>|:=|=|:)\s{0,3}|["']\s{0,3},\s{0,12}|(?:\s[^>]{0,40})?>)`

// assignedValue returns the value that starts at s[i]: a quoted string up
// to its closing quote (any bytes but the quote and a line break), or a
// bare token up to a delimiter. Values shorter than min are not values.
func assignedValue(s string, i, min int, quotedOnly bool) (a, b int, ok bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	if q := s[i]; q == '"' || q == '\'' {
		end := i + 1
		for end < len(s) && s[end] != q && s[end] != '\n' && end-i <= 256 {
			end++
		}
		if end >= len(s) || s[end] != q || end-i-1 < min {
			return 0, 0, false
		}
		return i + 1, end, true
	}
	if quotedOnly {
		return 0, 0, false
	}
	end := i
	for end < len(s) && end-i < 256 && !isValueDelim(s[end]) {
		end++
	}
	if end-i < min {
		return 0, 0, false
	}
	return i, end, true
}

func isValueDelim(c byte) bool {
	return c <= ' ' || strings.IndexByte("\"',;&<>{}()[]", c) >= 0
}

// assignedAt reads the value after a name and assignment matched at
// s[start:end] and applies the rules that keep prose and file paths out:
//   - after "name', " (a call's next argument) only a quoted value counts;
//   - a name that ends in path, file or dir names a file, not a secret;
//   - for user and host names, "name:" with a bare value needs white space
//     after the colon (YAML; "user@host:dir" and "host:port:db" are not
//     pairs) and must end the text, a clause or be followed by another
//     pair ("user: the focus" is prose).
func assignedAt(d *detector, s string, start, end int) (a, b int, ok bool) {
	if a, b, ok = assignedValue(s, end, 3, d.quotedOnly); !ok {
		return 0, 0, false
	}
	quoted := a > end
	op := strings.TrimRight(s[start:end], " \t")
	if op == "" {
		return a, b, true
	}
	switch op[len(op)-1] {
	case ',':
		if !quoted {
			return 0, 0, false
		}
	case ':':
		if d.cls != clsSecretPair && !quoted && (s[end-1] == ':' || !endsClause(s, b)) {
			return 0, 0, false
		}
	}
	if d.cls == clsSecretPair && namesFile(s[start:end]) {
		return 0, 0, false
	}
	return a, b, true
}

// namesFile reports whether the name at the start of m (a name and its
// assignment) ends in path, file or dir, ASCII case-insensitively.
func namesFile(m string) bool {
	n := 0
	for n < len(m) && (isWord(m[n]) || m[n] == '_' || m[n] == '.' || m[n] == '-') {
		n++
	}
	name := m[:n]
	for _, suf := range fileSuffixes {
		if len(name) >= len(suf) && strings.EqualFold(name[len(name)-len(suf):], suf) {
			return true
		}
	}
	return false
}

var fileSuffixes = [...]string{"path", "file", "dir"}

// endsClause reports whether the value ending at s[b] ends the text, a
// line or a clause, or is followed by another name:value or name=value.
func endsClause(s string, b int) bool {
	for b < len(s) && (s[b] == ' ' || s[b] == '\t') {
		b++
	}
	if b == len(s) || strings.IndexByte("\r\n#,;})]([", s[b]) >= 0 {
		return true
	}
	tok := s[b:]
	if i := strings.IndexAny(tok, " \t\r\n"); i >= 0 {
		tok = tok[:i]
	}
	return strings.ContainsAny(tok, "=:")
}

// pgpassShape: a line may be host:port:database:user:password when some
// run of non-space bytes holds exactly four colons with a digit or '*'
// right after the first.
func pgpassShape(l string) bool {
	for f := range strings.FieldsSeq(l) {
		if strings.Count(f, ":") != 4 {
			continue
		}
		if c := f[strings.IndexByte(f, ':')+1]; isDigit(c) || c == '*' {
			return true
		}
	}
	return false
}

// validPgpass rejects lines that are IPv6 addresses or hex runs: the host
// must be a name (a letter outside a-f, a dot, or '*').
func validPgpass(s string, a, b int) bool {
	line := s[:a]
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	host, _, _ := strings.Cut(strings.TrimLeft(line, " \t"), ":")
	if host == "*" || strings.Contains(host, ".") {
		return validSecretValue(s[a:b])
	}
	for i := 0; i < len(host); i++ {
		if c := lowerTable[host[i]]; c > 'f' && c <= 'z' {
			return validSecretValue(s[a:b])
		}
	}
	return false
}

// keywordIndex is the prefilter: one automaton over every detector keyword,
// matched ASCII case-insensitively.
type keywordIndex struct {
	ac       *automaton
	patterns []string
	// det[pattern] lists the detectors (indices into detectors) it enables.
	det [][]int
}

var keywords = func() keywordIndex {
	var ki keywordIndex
	var pats []string
	seen := map[string]int{}
	for di, d := range detectors {
		for _, k := range d.keywords {
			pi, ok := seen[k]
			if !ok {
				pi = len(pats)
				seen[k] = pi
				pats = append(pats, k)
				ki.det = append(ki.det, nil)
			}
			ki.det[pi] = append(ki.det[pi], di)
		}
	}
	ac, err := newAutomaton(pats)
	if err != nil {
		panic(err)
	}
	ki.ac = ac
	ki.patterns = pats
	return ki
}()

// detectorSet is a bit set over detectors.
type detectorSet uint32

// candidates returns the detectors whose prefilter s passes.
func candidates(s string) detectorSet {
	var b scanBuf
	flags := keywords.ac.scanInto(&b, s)
	return gated(s, flags, ^detectorSet(0)) | keywordHits(s, b.matches, 0, 0)
}

// gated returns the detectors whose digit, colon and shape gates pass,
// given the flags a scan of s raised. The colons are counted only when
// there are some and a detector they gate is wanted.
func gated(s string, flags uint32, want detectorSet) detectorSet {
	var set detectorSet
	cand := digitGated[digitRun(flags)] & want
	if flags&colonBit != 0 && colonGated[len(colonGated)-1]&want != 0 {
		cand |= colonGated[min(strings.Count(s, ":"), len(colonGated)-1)] & want
	}
	for cand != 0 {
		di := bits.TrailingZeros32(uint32(cand))
		cand &= cand - 1
		d := &detectors[di]
		switch d.cls {
		case clsIPv4:
			if flags&ipv4Bit == 0 {
				continue
			}
		case clsIBAN:
			if flags&ibanBit == 0 || !ibanShape(s) {
				continue
			}
		}
		if d.scan != nil && !d.scan(s) {
			continue
		}
		set |= 1 << di
	}
	return set
}

// digitGated[n] holds the detectors a longest digit run of n opens, and
// colonGated[n] those n colons open (the last entry: that many or more).
var digitGated, colonGated = func() (dg [maxDigitRun + 1]detectorSet, cg [8]detectorSet) {
	for di, d := range detectors {
		if d.minDigits > maxDigitRun || d.minColons >= len(cg) {
			panic("redact: a detector's gate is beyond what scan measures")
		}
		for n := range dg {
			if d.minDigits > 0 && n >= d.minDigits {
				dg[n] |= 1 << di
			}
		}
		for n := range cg {
			if d.minColons > 0 && n >= d.minColons {
				cg[n] |= 1 << di
			}
		}
	}
	return dg, cg
}()

// keywordHits returns the detectors the keyword matches among hits turn
// on; keyword patterns start at id base of the automaton that made hits.
// Detectors in skip (a tenant's kept classes) are not looked at.
func keywordHits(s string, hits []acMatch, base int, skip detectorSet) detectorSet {
	set := skip
	for _, m := range hits {
		// Past the built-in keywords come tenant-defined rules' (rules.go).
		if k := m.pattern - base; k >= 0 && k < len(keywords.det) {
			set |= keywords.enable(k, s, m.end, set)
		}
	}
	return set &^ skip
}

// enable returns the detectors keyword pattern pi turns on at a hit ending
// at end, less those already in set.
func (ki *keywordIndex) enable(pi int, s string, end int, set detectorSet) detectorSet {
	var on detectorSet
	for _, di := range ki.det[pi] {
		if set&(1<<di) != 0 {
			continue
		}
		if n := detectors[di].near; n != nil && !n(s, end) {
			continue
		}
		on |= 1 << di
	}
	return on
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ibanShape looks for two letters and two digits starting a word, followed
// by at least 11 more letters, digits or spaces: the start of an IBAN.
func ibanShape(l string) bool {
	for i := 0; i+15 <= len(l); i++ {
		if !isAlpha(l[i]) || !isAlpha(l[i+1]) || !isDigit(l[i+2]) || !isDigit(l[i+3]) || (i > 0 && isWord(l[i-1])) {
			continue
		}
		n := 0
		for j := i + 4; j < len(l) && (isWord(l[j]) || l[j] == ' ') && n < 11; j++ {
			n++
		}
		if n >= 11 {
			return true
		}
	}
	return false
}

// cardShape and ssnShape are necessary conditions for a match of the card
// and SSN expressions: digits, spaces and dashes only, from a digit after
// a word boundary to a digit before one, holding at least 12 (9) digits. A
// long digit run inside a hex id ("538454127b096493") has no such span, so
// the expression does not run on it.
func cardShape(l string) bool {
	return boundedDigits(l, 12, shapeCard, shapeBoundary, shapeBoundary)
}

func ssnShape(l string) bool { return boundedDigits(l, 9, shapeCard, shapeBoundary, shapeBoundary) }

// phoneShape is a necessary condition for a phone number that validPhone
// accepts: the characters the phone expression can match (digits,
// "+() .-", white space, and x, e, t for an extension), starting after a
// byte validPhone allows before a number and ending before one it allows
// after, holding at least 8 digits.
func phoneShape(l string) bool {
	return boundedDigits(l, 7, shapePhone, shapePhoneBefore, shapePhoneAfter)
}

func isCardByte(c byte) bool { return isDigit(c) || c == ' ' || c == '-' }

func isPhoneByte(c byte) bool {
	return isDigit(c) || strings.IndexByte("+() .-\t\n\f\rxetXET", c) >= 0
}

// regexpBoundary reports a byte that is not a word byte of regexp's \b.
func regexpBoundary(c byte) bool { return !isWord(c) && c != '_' }

// What a byte is to the shapes, a bit each in shapeBytes.
const (
	shapeDigit       = 1 << iota
	shapeCard        // isCardByte
	shapeBoundary    // regexpBoundary: before and after a card or SSN
	shapePhone       // isPhoneByte
	shapePhoneBefore // a byte validPhone allows before a number
	shapePhoneAfter  // and after one
)

// shapeBytes classifies every byte for boundedDigits: a table load where
// a call through a function value per byte cost a log line's phone gate
// more than its regular expression would have saved.
var shapeBytes = func() (t [256]uint8) {
	for i := range 256 {
		c := byte(i)
		set := func(bit uint8, on bool) {
			if on {
				t[i] |= bit
			}
		}
		set(shapeDigit, isDigit(c))
		set(shapeCard, isCardByte(c))
		set(shapeBoundary, regexpBoundary(c))
		set(shapePhone, isPhoneByte(c))
		set(shapePhoneBefore, !isWord(c) && strings.IndexByte("-_/.:", c) < 0)
		set(shapePhoneAfter, !isWord(c) && strings.IndexByte("_/", c) < 0)
	}
	return t
}()

// boundedDigits reports whether l has a run of bytes in (a shapeBytes
// bit), with at least min digits between the first place a match may
// start (a digit whose previous byte is before, or the start of l) and
// the last place it may end (a digit whose next byte is after, or the end
// of l). For expressions that match only bytes in, where a match starts
// and ends with a digit under those conditions, it is a necessary
// condition of a match with min digits. Each run is read once, its digits
// counted as it goes.
func boundedDigits(l string, min int, in, before, after uint8) bool {
	for i := 0; i < len(l); {
		if shapeBytes[l[i]]&in == 0 {
			i++
			continue
		}
		// The run [i, j): digits before its start and through its end.
		start, end, digits, atStart, atEnd := -1, -1, 0, 0, 0
		j := i
		for ; j < len(l) && shapeBytes[l[j]]&in != 0; j++ {
			if shapeBytes[l[j]]&shapeDigit == 0 {
				continue
			}
			digits++
			if start < 0 && (j == 0 || shapeBytes[l[j-1]]&before != 0) {
				start, atStart = j, digits-1
			}
			if j+1 == len(l) || shapeBytes[l[j+1]]&after != 0 {
				end, atEnd = j+1, digits
			}
		}
		if start >= 0 && end > start && atEnd-atStart >= min {
			return true
		}
		i = j
	}
	return false
}

// ipv6Shape looks for a run of hex digits and colons holding two colons and
// no group longer than four.
func ipv6Shape(l string) bool {
	// Two colons with at most four hex digits and nothing else between
	// them, found colon to colon (IndexByte): a switch on every byte cost a
	// log line holding "read:orders write:cart" a third of its scan.
	i := strings.IndexByte(l, ':')
	for i >= 0 {
		j := strings.IndexByte(l[i+1:], ':')
		if j < 0 {
			return false
		}
		if j <= 4 && allHex(l[i+1:i+1+j]) {
			return true
		}
		i += 1 + j
	}
	return false
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// userinfoNear: a URL's scheme separator followed, before the next '/' or
// space, by an '@' (user:pass@host).
func userinfoNear(l string, end int) bool {
	for i := end; i < len(l); i++ {
		if k := userinfoStops[l[i]]; k != 0 {
			return k == '@'
		}
	}
	return false
}

// userinfoStops marks the bytes userinfoNear stops at, each with itself: a
// table load per byte of a URL's host instead of a switch's compares.
var userinfoStops = func() (t [256]byte) {
	for _, c := range []byte("@/ \"'\n") {
		t[c] = c
	}
	return t
}()

// authValueNear: an auth scheme name followed by white space and at least
// eight characters of a credential.
func authValueNear(l string, end int) bool {
	i := end
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		i++
	}
	if i == end {
		return false
	}
	n := 0
	for ; i < len(l) && n < 8 && (isWord(l[i]) || strings.IndexByte("._~+/-", l[i]) >= 0); i++ {
		n++
	}
	return n >= 8
}

// assignmentNear: a secret's name followed, after at most a few more name
// characters, a quote and spaces, by an assignment (= : => ,) or a markup
// close ('>' within 41 bytes), as the secret_pair regexp needs.
func assignmentNear(l string, end int) bool {
	i := end
	for n := 0; i < len(l) && n < 32 && (isWord(l[i]) || l[i] == '_' || l[i] == '.' || l[i] == '-'); n++ {
		i++
	}
	j := i
	if j < len(l) && (l[j] == '"' || l[j] == '\'') {
		j++
	}
	for n := 0; j < len(l) && n < 3 && (l[j] == ' ' || l[j] == '\t'); n++ {
		j++
	}
	if j < len(l) && (l[j] == '=' || l[j] == ':' || l[j] == ',' || l[j] == '>') {
		return true
	}
	return strings.IndexByte(l[i:min(len(l), i+42)], '>') >= 0
}

// detect appends the findings in s of the detectors in set.
func detect(dst []hit, s string, set detectorSet) []hit {
	// In detectors' order, as the hits were always appended.
	for set &= allDetectors; set != 0; set &= set - 1 {
		di := bits.TrailingZeros32(uint32(set))
		d := &detectors[di]
		// A hand-written matcher (the e-mail addresses') stops where a
		// run of within bytes ends, so it takes the whole string: cutting
		// the runs first walked each address twice more, back and forth
		// around its '@', before findEmails walked it again
		// (TestMatchersAreTheirExpressions holds it to its expression on
		// whole strings, TestAnchoredRunsFindTheSame the runs to the
		// whole string).
		if d.anchor == 0 || d.match != nil {
			dst = d.find(dst, s, 0, len(s))
			continue
		}
		// Only the runs of within bytes around each anchor.
		within := withinTabs[di]
		for i := 0; i < len(s); {
			j := strings.IndexByte(s[i:], d.anchor)
			if j < 0 {
				break
			}
			lo, hi := i+j, i+j+1
			for lo > 0 && within[s[lo-1]] {
				lo--
			}
			for hi < len(s) && within[s[hi]] {
				hi++
			}
			dst = d.find(dst, s, lo, hi)
			i = hi
		}
	}
	return dst
}

// find appends the findings of d's expression in s[lo:hi]; validators see
// all of s.
func (d *detector) find(dst []hit, s string, lo, hi int) []hit {
	if d.match != nil {
		return d.match(dst, s, lo, hi)
	}
	return d.findRE(dst, s, lo, hi)
}

// findRE is find by d's expression.
func (d *detector) findRE(dst []hit, s string, lo, hi int) []hit {
	for _, loc := range d.re.FindAllStringSubmatchIndex(s[lo:hi], -1) {
		a, b := loc[2*d.group], loc[2*d.group+1]
		if a < 0 {
			continue
		}
		a, b = a+lo, b+lo
		if d.assigned {
			var ok bool
			if a, b, ok = assignedAt(d, s, loc[0]+lo, loc[1]+lo); !ok {
				continue
			}
		}
		if d.valid != nil && !d.valid(s, a, b) {
			continue
		}
		dst = append(dst, hit{a, b, d.cls})
	}
	return dst
}

func digitsOf(v string) []byte {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; '0' <= c && c <= '9' {
			out = append(out, c-'0')
		}
	}
	return out
}

// validCard checks a card number as written: not a phone number (no
// leading "+"), a known issuer's prefix and length, and the Luhn checksum.
func validCard(s string, a, b int) bool {
	if a > 0 && s[a-1] == '+' {
		return false
	}
	d := digitsOf(s[a:b])
	if !cardIssuer(d) {
		return false
	}
	sum := 0
	for i := range d {
		x := int(d[len(d)-1-i])
		if i%2 == 1 {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// cardIssuer reports whether the digits d start with an issuer
// identification number and have a length that issuer uses (ISO/IEC 7812
// ranges of the networks in common use).
func cardIssuer(d []byte) bool {
	n := len(d)
	if n < 12 || n > 19 {
		return false
	}
	p := func(k int) int {
		v := 0
		for _, x := range d[:k] {
			v = v*10 + int(x)
		}
		return v
	}
	switch p2 := p(2); {
	case d[0] == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case 51 <= p2 && p2 <= 55, 2221 <= p(4) && p(4) <= 2720: // Mastercard
		return n == 16
	case 300 <= p(3) && p(3) <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14
	case p2 == 35: // JCB (3528-3589 issued; the rest of 35 is reserved to it)
		return n >= 16
	case p(4) == 1800 || p(4) == 2131: // JCB's older 15-digit numbers
		return n == 15
	case p(4) == 6011, p2 == 65, 644 <= p(3) && p(3) <= 649, p2 == 62: // Discover, UnionPay
		return n >= 16
	case p2 == 50, 56 <= p2 && p2 <= 69: // Maestro
		return n >= 12
	}
	return false
}

// validIBAN checks the ISO 13616 mod-97 checksum.
func validIBAN(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return validIBANUnicode(v)
		}
	}
	// ASCII (the usual case): validIBANUnicode without allocating.
	var buf [34]byte
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			continue
		}
		if n == len(buf) {
			return false
		}
		buf[n] = lowerToUpper(c)
		n++
	}
	if n < 15 {
		return false
	}
	rem := 0
	for k := range n {
		switch c := buf[(k+4)%n]; {
		case '0' <= c && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case 'A' <= c && c <= 'Z':
			d := int(c-'A') + 10
			rem = (rem*10 + d/10) % 97
			rem = (rem*10 + d%10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func lowerToUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// validIBANUnicode is validIBAN for any text: (?i) lets the expression
// match letters such as U+017F, which strings.ToUpper turns into ASCII.
func validIBANUnicode(v string) bool {
	v = strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	if len(v) < 15 || len(v) > 34 {
		return false
	}
	var sb strings.Builder
	for _, c := range v[4:] + v[:4] {
		switch {
		case '0' <= c && c <= '9':
			sb.WriteRune(c)
		case 'A' <= c && c <= 'Z':
			sb.WriteString(big.NewInt(int64(c - 'A' + 10)).String())
		default:
			return false
		}
	}
	rem := 0
	for _, c := range sb.String() {
		rem = (rem*10 + int(c-'0')) % 97
	}
	return rem == 1
}

func validIPv4(v string) bool {
	a, err := netip.ParseAddr(v)
	return err == nil && a.Is4() && !a.IsUnspecified()
}

// validIPv6 also wants the address to stand alone: "root::17431:0" in a
// shadow line is not the address ::1743.
func validIPv6(s string, i, j int) bool {
	if (i > 0 && (s[i-1] == ':' || isWord(s[i-1]))) || (j < len(s) && (s[j] == ':' || isWord(s[j]))) {
		return false
	}
	v := s[i:j]
	a, err := netip.ParseAddr(v)
	return err == nil && a.Is6() && strings.Count(v, ":") >= 2
}

// validJWT confirms a JWS in compact form: exactly three base64url parts
// (the signature may be empty: alg "none"), the first of which decodes to
// a JSON object naming its "alg". Two dotted "eyJ" words that are not a
// token (a JWE's five parts, base64 of other JSON) are left alone.
func validJWT(s string, a, b int) bool {
	if b+1 < len(s) && s[b] == '.' && (isWord(s[b+1]) || s[b+1] == '_' || s[b+1] == '-') {
		return false // a fourth part
	}
	header, _, _ := strings.Cut(s[a:b], ".")
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	var h struct {
		Alg *string `json:"alg"`
	}
	return json.Unmarshal(raw, &h) == nil && h.Alg != nil && *h.Alg != ""
}

// validSSN rejects the ranges the SSA never issues: area 000, 666 and
// 900-999, group 00, serial 0000.
func validSSN(v string) bool {
	d := digitsOf(v)
	if len(d) != 9 {
		return false
	}
	area := int(d[0])*100 + int(d[1])*10 + int(d[2])
	group := int(d[3])*10 + int(d[4])
	serial := int(d[5])*1000 + int(d[6])*100 + int(d[7])*10 + int(d[8])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	if len(v) > 9 && v[3] != v[6] { // mixed separators: 123-45 6789
		return false
	}
	return true
}

var dateLike = regexp.MustCompile(`^\d{4}[-./]\d{1,2}[-./]\d{1,2}`)

// validPhone accepts E.164-style numbers: 8 to 15 digits, and either a
// leading + or 00, or separators that group the digits as people write them.
// Where the text says it is a phone number (a word such as phone, mobile,
// fax or call shortly before it, or office, fax, mobile after it), a local
// number of 7 digits and an ungrouped run count too.
func validPhone(s string, a, b int) bool {
	// Not part of a longer token: an id, a key, a version.
	if a > 0 && (isWord(s[a-1]) || strings.IndexByte("-_/.:", s[a-1]) >= 0) {
		return false
	}
	labelAfter := phoneLabelAfter(s, b)
	if b < len(s) && !labelAfter && (isWord(s[b]) || strings.IndexByte("-_/", s[b]) >= 0) {
		return false
	}
	v := s[a:b]
	d := digitsOf(v)
	if len(d) < 7 || len(d) > 15 {
		return false
	}
	context := labelAfter || phoneWordBefore(s, a)
	if len(d) < 8 && !context {
		return false
	}
	if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "00") {
		return true
	}
	groups := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' })
	// Two bare groups are as often house numbers and zip codes as phones;
	// under a phone word, one run of digits must be as long as a full
	// national number, since "call id 1234567" is a log's, not a phone.
	if len(groups) < 3 && !strings.Contains(v, "(") && (!context || len(groups) < 2 && len(d) < 10) {
		return false
	}
	// Timestamps: 2006-01-02 15:04.
	if dateLike.MatchString(v) || (b < len(s) && s[b] == ':') {
		return false
	}
	// 3-2-4 is the shape of an SSN.
	if len(groups) == 3 && len(groups[0]) == 3 && len(groups[1]) == 2 && len(groups[2]) == 4 {
		return false
	}
	// Dotted quads are addresses and dashed dates are dates, not phones.
	if strings.Count(v, ".") == 3 || (len(groups) == 3 && len(groups[0]) == 4 && strings.Count(v, "-") == 2) {
		return false
	}
	return true
}

// phoneWords say that a number nearby is a phone number.
var phoneWords = [...]string{"phone", "tel", "mobile", "cell", "fax", "desk", "call", "sms", "whatsapp", "dial", "contact", "registered", "answering", "reach"}

// phoneWordBefore reports a phone word starting a word within the 32 bytes
// before s[a], with no digit between it and the number (the number it
// labels is the first that follows).
func phoneWordBefore(s string, a int) bool {
	lo := max(0, a-32)
	for i := a - 1; i >= lo; i-- {
		if isDigit(s[i]) {
			lo = i + 1
			break
		}
	}
	w := s[lo:a]
	for _, pw := range phoneWords {
		for i := 0; i+len(pw) <= len(w); i++ {
			if (i == 0 || !isAlpha(w[i-1])) && strings.EqualFold(w[i:i+len(pw)], pw) {
				return true
			}
		}
	}
	return false
}

// phoneLabelAfter reports a label right after a number, joined by a dash
// or a space: "082 490 1693-Office", "781 1704 office".
func phoneLabelAfter(s string, b int) bool {
	if b >= len(s) || (s[b] != '-' && s[b] != ' ') {
		return false
	}
	rest := s[b+1:]
	for _, l := range [...]string{"office", "fax", "mobile", "home", "work", "cell"} {
		if len(rest) >= len(l) && strings.EqualFold(rest[:len(l)], l) && (len(rest) == len(l) || !isAlpha(rest[len(l)])) {
			return true
		}
	}
	return false
}

// validSecretValue skips placeholders and values that are clearly not
// secrets (already redacted, empty templates).
func validSecretValue(v string) bool {
	lv := strings.ToLower(v)
	switch lv {
	case "bearer", "basic", "digest", "null", "none", "true", "false", "nil", "undefined", "***", "****", "xxx", "changeme", "redacted":
		return false
	}
	return !strings.HasPrefix(v, "<redacted") && !strings.HasPrefix(v, "<hash:") && !strings.HasPrefix(v, "${") && !strings.HasPrefix(v, "{{")
}

// validNameValue accepts a user or host name: not a placeholder, a
// boolean, a bare number (a port, a count, an index) or a timestamp.
func validNameValue(v string) bool {
	if !validSecretValue(v) || strings.HasPrefix(v, "$") {
		return false
	}
	digits := 0
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			digits++
		}
	}
	return digits < len(v) && !dateLike.MatchString(v)
}

// spaceQuoteNear: a secret's name, the rest of its word, one to three
// spaces or tabs and a quote.
func spaceQuoteNear(l string, end int) bool {
	i := end
	for i < len(l) && isWord(l[i]) {
		i++
	}
	j := i
	for j < len(l) && j-i < 3 && (l[j] == ' ' || l[j] == '\t') {
		j++
	}
	return j > i && j < len(l) && (l[j] == '"' || l[j] == '\'')
}

// Finding is one value of a PII or secret class found by Detect.
type Finding struct {
	// Start and End are the byte range [Start, End) of the value.
	Start, End int
	// Class is the policy's class name (email, credit_card, ipv4...).
	Class string
}

// Detect returns the findings of every class in s, as a tenant that redacts
// every class would see them, before overlapping findings merge. It is the
// detectors alone (no identifiers, no attribute-name rules) for measuring
// recall and precision.
func Detect(s string) []Finding {
	hits := detect(nil, s, candidates(s))
	out := make([]Finding, len(hits))
	for i, h := range hits {
		out[i] = Finding{h.start, h.end, h.cls.String()}
	}
	return out
}

// lowerTable lowers ASCII letters and leaves every other byte.
var lowerTable = func() (l [256]byte) {
	for i := range 256 {
		l[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			l[i] = byte(i) + 'a' - 'A'
		}
	}
	return l
}()

// facts are what scan measures of a string for the prefilters.
type facts struct {
	// digits is the longest run of digits where neighbours are at most two
	// separators apart (cards, SSNs, phones need one), up to maxDigitRun;
	// colons counts ':'.
	digits, colons int
	// esc: a '%' or '\\' (a possible escape). ipv4: a run of digits and
	// dots with three dots. iban: a word starting with two letters and two
	// digits.
	esc, ipv4, iban bool
}
