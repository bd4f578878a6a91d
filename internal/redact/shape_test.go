package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestShapesAreNecessary: whenever the card, SSN or phone expression finds
// a value its validator accepts, the shape scan that gates it passes, so
// the scans change what runs, never what is found.
func TestShapesAreNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789012345678901234567890123456789 -.()+/:_xetabAB\t"
	seeds := []string{
		"call +1 (555) 123-4567 now", "555-123-4567 x123", "(555)1234567", "ssn 123-45-6789.",
		"4111 1111 1111 1111", "card 4111-1111-1111-1111;", "538454127b096493", "id_4111111111111111",
		"+44 20 7946 0958", "0049 30 1234567", "tel:5551234567", "a(555) 123 4567", "(555) (123) 4567",
	}
	var cases []string
	cases = append(cases, seeds...)
	cases = append(cases, randomStrings(rng, alphabet, 60000, 1, 24)...)
	for _, s := range cases {
		for _, d := range detectors {
			if d.cls != clsCreditCard && d.cls != clsSSN && d.cls != clsPhone {
				continue
			}
			found := false
			for _, loc := range d.re.FindAllStringSubmatchIndex(s, -1) {
				a, b := loc[2*d.group], loc[2*d.group+1]
				if a >= 0 && (d.valid == nil || d.valid(s, a, b)) {
					found = true
				}
			}
			if found && !d.scan(s) {
				t.Fatalf("%v found in %q but its shape scan fails", d.cls, s)
			}
		}
	}
}

// TestGatesFoldCase: the shape scans and near checks see the original
// string (scan makes no lowered copy), so each must answer for it what it
// answers for the string lowered.
func TestGatesFoldCase(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const alphabet = "0123456789 -.:()+/=@'\"\t>_xetXETabfABFgzGZ$"
	cases := []string{"DE89 3704 0044 0532 0130 00", "FE80::1", "Password: 'Hunter22'", "Bearer ABCDEFGHIJ", "HTTPS://U:P@H/", "Host:5432:DB:User:PW"}
	cases = append(cases, randomStrings(rng, alphabet, 50000, 1, 30)...)
	for _, s := range cases {
		lower := strings.ToLower(s)
		if ibanShape(s) != ibanShape(lower) {
			t.Fatalf("ibanShape(%q) differs from its lowered form", s)
		}
		for di, d := range detectors {
			if d.scan != nil && d.scan(s) != d.scan(lower) {
				t.Fatalf("detector %d (%v): shape of %q differs from its lowered form", di, d.cls, s)
			}
			for end := 0; d.near != nil && end <= len(s); end++ {
				if d.near(s, end) != d.near(lower, end) {
					t.Fatalf("detector %d (%v): near(%q, %d) differs from its lowered form", di, d.cls, s, end)
				}
			}
		}
	}
}

// TestValidIBANMatchesUnicodePath: the allocation-free ASCII path agrees
// with the original (strings.ToUpper) one.
func TestValidIBANMatchesUnicodePath(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cases := []string{"GB82 WEST 1234 5698 7654 32", "gb82west12345698765432", "DE89370400440532013000", "DE89370400440532013001", "cc623af8783354e7", "GB82WEST1234569876543212345678901234"}
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz -_"
	cases = append(cases, randomStrings(rng, alphabet, 100000, 0, 39)...)
	valid := 0
	for _, s := range cases {
		if got, want := validIBAN(s), validIBANUnicode(s); got != want {
			t.Fatalf("validIBAN(%q) = %v, original %v", s, got, want)
		} else if got {
			valid++
		}
	}
	if valid < 3 {
		t.Fatalf("only %d valid IBANs among the cases", valid)
	}
}

// TestAnchoredRunsFindTheSame: a detector that runs its expression only on
// the runs around its anchor finds exactly what it finds on the whole
// string.
func TestAnchoredRunsFindTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const alphabet = "ab.Z9_-+%@ @@:/<>\"'\xc3\xa9x.com"
	cases := []string{
		"notify billing-ops@cust00009.example about it", "a@b.com_x", "x@y.co@z.org", "@@a.b@c.de",
		"mailto:J.Doe+tag@Example.COM, other@x.io.", "é@b.com a@é.com", "a@b.c0m a@b.com9",
	}
	cases = append(cases, randomStrings(rng, alphabet, 50000, 1, 40)...)
	anchored, found := 0, 0
	for di := range detectors {
		d := &detectors[di]
		if d.anchor == 0 {
			continue
		}
		anchored++
		for _, s := range cases {
			want := d.find(nil, s, 0, len(s))
			got := detect(nil, s, 1<<di)
			if !slices.Equal(want, got) {
				t.Fatalf("detector %d (%v) on %q: anchored runs found %v, the whole string %v", di, d.cls, s, got, want)
			}
			found += len(want)
		}
	}
	if anchored == 0 || found < 100 {
		t.Fatalf("%d anchored detectors, %d findings: the test compares nothing", anchored, found)
	}
}

// gatedRef is gated as a plain loop over every detector: the reference for
// its gate tables.
func gatedRef(s string, f facts) detectorSet {
	var set detectorSet
	for di := range detectors {
		d := &detectors[di]
		if !(d.minDigits > 0 && f.digits >= d.minDigits) && !(d.minColons > 0 && f.colons >= d.minColons) {
			continue
		}
		if d.cls == clsIPv4 && !f.ipv4 || d.cls == clsIBAN && (!f.iban || !ibanShape(s)) {
			continue
		}
		if d.scan != nil && !d.scan(s) {
			continue
		}
		set |= 1 << di
	}
	return set
}

func TestGatedMatchesReference(t *testing.T) {
	m, err := NewMatcher(testPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, s := range randomStrings(rand.New(rand.NewPCG(11, 12)), "0123456789 -.:()+/abAZ%", 50000, 1, 40) {
		var b scanBuf
		flags := m.ac.scanInto(&b, s)
		_, f := prepareRef(nil, s)
		f.digits = min(f.digits, maxDigitRun)
		want := gatedRef(s, f)
		colons := colonGated[len(colonGated)-1]
		for _, only := range []detectorSet{^detectorSet(0), ^detectorSet(1), colons, ^colons} {
			if got := gated(s, flags, only); got != want&only {
				t.Fatalf("gated(%q) of %b = %b, reference %b", s, only, got, want&only)
			}
		}
		if want != 0 {
			opened++
		}
	}
	if opened < 1000 {
		t.Fatalf("only %d strings opened a gate", opened)
	}
}

// randomStrings returns n strings over alphabet, each of min to max bytes.
func randomStrings(rng *rand.Rand, alphabet string, n, min, max int) []string {
	out := make([]string, n)
	for i := range out {
		b := make([]byte, min+rng.IntN(max-min+1))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		out[i] = string(b)
	}
	return out
}

// TestMatchersAreTheirExpressions: a detector's hand-written matcher finds
// exactly what its expression finds, on whole strings and on parts of them,
// at the bounds of every quantifier.
func TestMatchersAreTheirExpressions(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	rep := strings.Repeat
	cases := []string{
		"jane.doe.4411@example.com", "a@b.com_x", "a@b.c.com_x", "a@b.com-x", "a@b.com.", "a@b.c0m", "a@b.com9",
		"x@y.co@z.org", "@@a.b@c.de", "a@@b.com", "a@b.com.c@d.org", "mailto:J.Doe+tag@Example.COM, other@x.io.",
		"a@-b.com", "a@b-.com", "a@b--c.com", "a@b..com", "a@.com", "a@com", "a@b.c", "%@b.co", "_@b.co",
		rep("l", 64) + "@b.com", rep("l", 65) + "@b.com", "a@" + rep("d", 64) + ".com", "a@" + rep("d", 65) + ".com",
		"a@b." + rep("t", 24), "a@b." + rep("t", 25), "a@b." + rep("t", 24) + "-x", "a@b.c." + rep("t", 25) + ".d",
		"a@b." + rep("c.", 12) + "com", "é@b.com a@é.com", "a@b.com\xff", "a@b.co\xc3\xa9",
	}
	cases = append(cases, randomStrings(rng, "ab.Z9_-+%@ @.com:é", 100000, 1, 40)...)
	cases = append(cases, randomStrings(rng, "aaab.-@", 20000, 60, 140)...)
	tested, found := 0, 0
	for di := range detectors {
		d := &detectors[di]
		if d.match == nil {
			continue
		}
		tested++
		for _, s := range cases {
			for _, b := range [][2]int{{0, len(s)}, {len(s) / 3, len(s)}, {0, len(s) * 2 / 3}} {
				want := d.findRE(nil, s, b[0], b[1])
				got := d.find(nil, s, b[0], b[1])
				if !slices.Equal(want, got) {
					t.Fatalf("detector %d (%v) on %q[%d:%d]: matcher found %v, expression %v", di, d.cls, s, b[0], b[1], got, want)
				}
				found += len(want)
			}
		}
	}
	if tested == 0 || found < 10000 {
		t.Fatalf("%d matchers, %d findings: the test compares nothing", tested, found)
	}
}

// TestIBANMatcherIsItsExpression: ibanAt ends a match exactly where reIBAN
// does, at every bound of its quantifiers, around spaces, underscores and
// other word boundaries; findIBANs and the expression with its validator
// find the same IBANs, also in text past ASCII.
func TestIBANMatcherIsItsExpression(t *testing.T) {
	rep := strings.Repeat
	cases := []string{
		"DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82 WEST 1234 5698 7654 32", "nl91abna0417164300",
		"pay DE89 3704 0044 0532 0130 00.", "x DE89370400440532013000_", "_DE89370400440532013000", "ff648458e96175da",
		"DE89 3704 0044 0532 0130 00 DE89 3704 0044 0532 0130 00", "DE89  3704 0044", "DE89 3704  0044 0532",
		"\u212aE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00 \u017f", "DE89 3704 0044 0532 0130 00\xff",
	}
	for k := 0; k <= 9; k++ {
		for tail := 0; tail <= 6; tail++ {
			for _, sep := range []string{"", " "} {
				body := "AB12" + rep(sep+"C3D4", k) + sep + rep("E", tail)
				for _, after := range []string{"", " ", "_", "-", "x", " 9", ".", "  Z"} {
					cases = append(cases, body+after, "x "+body+after, "_"+body+after)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(21, 22))
	cases = append(cases, randomStrings(rng, "AB12 C3 d4_-.", 50000, 4, 60)...)
	// Strings of IBAN-like pieces, so that most hold a match somewhere.
	pieces := []string{"AB12", "AB12", "de89", "C3D4", "C3D4", "C3D4", " C3D4", " C3D4", "370", "E", "9", " ", "_", "-", "x."}
	for range 100000 {
		var b strings.Builder
		for range 1 + rng.IntN(16) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		cases = append(cases, b.String())
	}
	d := &detectors[slices.IndexFunc(detectors, func(d detector) bool { return d.cls == clsIBAN })]
	raw := 0
	for _, s := range cases {
		var got [][]int
		if isASCII(s) {
			for p := 0; p+4 <= len(s); {
				if end, ok := ibanAt(s, p); ok {
					got = append(got, []int{p, end})
					p = end
					continue
				}
				p++
			}
			if want := reIBAN.FindAllStringIndex(s, -1); !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("on %q: ibanAt found %v, the expression %v", s, got, want)
			}
			raw += len(got)
		}
		for _, b := range [][2]int{{0, len(s)}, {len(s) / 3, len(s)}, {0, len(s) * 2 / 3}} {
			if want, got := d.findRE(nil, s, b[0], b[1]), d.find(nil, s, b[0], b[1]); !slices.Equal(want, got) {
				t.Fatalf("on %q[%d:%d]: findIBANs found %v, the expression %v", s, b[0], b[1], got, want)
			}
		}
	}
	if raw < 10000 {
		t.Fatalf("%d matches: the test compares little", raw)
	}
}

// ipv6ShapeRef and hasEscapesRef are ipv6Shape and hasEscapes as a switch
// on every byte: the references for the versions that jump between
// colons, percents and backslashes.
func ipv6ShapeRef(l string) bool {
	colons, group := 0, 0
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c == ':':
			colons++
			group = 0
			if colons >= 2 {
				return true
			}
		case isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
			if group++; group > 4 {
				colons, group = 0, 4
			}
		default:
			colons, group = 0, 0
		}
	}
	return false
}

func hasEscapesRef(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				return true
			}
		case '\\':
			if i+1 < len(s) && strings.IndexByte(`"\\/'ntrbfu`, s[i+1]) >= 0 {
				return true
			}
		}
	}
	return false
}

func TestJumpingScansMatchReference(t *testing.T) {
	cases := []string{"", ":", "::", "a::b", "fe80::1", "12345:1:", "1:12345:", "1:1234:", "g:a:", ":abcd:", ":abcde:",
		"%", "%4", "%41", "a%4g", "\\", "\\n", "\\x", "25% r", "%%41", "\\\\"}
	cases = append(cases, randomStrings(rand.New(rand.NewPCG(15, 16)), "0a9fFg:: x%%\\\\n\"u4", 200000, 0, 24)...)
	shapes, escapes := 0, 0
	for _, s := range cases {
		if got, want := ipv6Shape(s), ipv6ShapeRef(s); got != want {
			t.Fatalf("ipv6Shape(%q) = %v, reference %v", s, got, want)
		} else if want {
			shapes++
		}
		if got, want := hasEscapes(s), hasEscapesRef(s); got != want {
			t.Fatalf("hasEscapes(%q) = %v, reference %v", s, got, want)
		} else if want {
			escapes++
		}
	}
	if shapes < 1000 || escapes < 1000 {
		t.Fatalf("%d shapes, %d escapes found: the test compares little", shapes, escapes)
	}
}
