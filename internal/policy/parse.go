package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a policy file, located by line and key.
type Problem struct {
	File string
	Line int
	// Key is the dotted path of the offending key, e.g. tenants.acme.status.
	Key string
	Msg string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Key, p.Msg)
}

// ValidationError lists every problem found in a policy file, in file order.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and parses a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a policy. name is used in error messages.
func Parse(name string, data []byte) (*Policy, error) {
	ps := &parser{file: name}
	sum := sha256.Sum256(data)
	p := &Policy{
		Source:  name,
		Version: hex.EncodeToString(sum[:8]),
		tenants: map[string]*Tenant{},
		keys:    map[KeyHash]keyEntry{},
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		ps.add(yamlErrorLine(err), "(file)", "not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, ps.err()
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		ps.add(1, "(file)", "empty policy: want a mapping with a tenants key")
		return nil, ps.err()
	}
	if root.Kind != yaml.MappingNode {
		ps.add(root.Line, "(file)", "want a mapping with defaults and tenants keys, found %s", kindName(root))
		return nil, ps.err()
	}

	defaults := builtinDefaults()
	var tenantsNode *yaml.Node
	var tenantsLine int
	ps.eachPair(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "defaults":
			s := ps.spec(v, "defaults", false)
			s.applyTo(&defaults)
		case "tenants":
			tenantsNode, tenantsLine = v, k.Line
		default:
			ps.add(k.Line, key, "unknown key (want one of: defaults, tenants)")
		}
	})
	p.Defaults = defaults

	if tenantsNode == nil {
		ps.add(root.Line, "tenants", "missing: the policy must declare its tenants (an empty mapping {} is allowed)")
		return nil, ps.err()
	}
	if tenantsNode.Kind != yaml.MappingNode && !isNull(tenantsNode) {
		ps.add(tenantsLine, "tenants", "want a mapping of tenant id to settings, found %s", kindName(tenantsNode))
		return nil, ps.err()
	}

	identOwner := map[string]string{}
	var idents []identAt
	ps.eachPair(tenantsNode, "tenants", func(id string, k, v *yaml.Node) {
		path := "tenants." + id
		if err := ValidateTenantID(id); err != nil {
			ps.add(k.Line, path, "%s", err)
			return
		}
		if id == Quarantine || id == Governance {
			ps.add(k.Line, path, "%q is reserved for the pipeline's own data", id)
			return
		}
		if IsReserved(id) {
			ps.add(k.Line, path, `ids starting with "_" are reserved for the pipeline's own tenants`)
			return
		}
		s := ps.spec(v, path, true)
		t := cloneTenant(defaults)
		t.ID = id
		t.Line = k.Line
		s.applyTo(&t)

		for i, ident := range t.Identifiers {
			low := strings.ToLower(ident)
			if owner, dup := identOwner[low]; dup && owner != id {
				ps.add(s.identLines[i], fmt.Sprintf("%s.identifiers[%d]", path, i),
					"identifier %q is already claimed by tenant %q", ident, owner)
				continue
			}
			identOwner[low] = id
			idents = append(idents, identAt{low, id, s.identLines[i], fmt.Sprintf("%s.identifiers[%d]", path, i)})
		}
		for i, h := range t.APIKeys {
			if prev, dup := p.keys[h]; dup {
				ps.add(s.keyLines[i], fmt.Sprintf("%s.api_keys[%d]", path, i),
					"this key hash is already a key of tenant %q", prev.tenant.ID)
				continue
			}
			p.keys[h] = keyEntry{hash: h, tenant: &t}
		}
		p.tenants[id] = &t
		p.ids = append(p.ids, id)
	})
	ps.prefixConflicts(idents)
	if len(ps.problems) > 0 {
		return nil, ps.err()
	}
	sort.Strings(p.ids)
	return p, nil
}

// identAt is a declared identifier, lower case, and where it was declared.
type identAt struct {
	low, tenant string
	line        int
	path        string
}

// prefixConflicts refuses a tenant's key prefix ("acme_k*") that another
// tenant's identifier starts with: that identifier would be the first
// tenant's in the second's own records, and redacted there.
func (ps *parser) prefixConflicts(idents []identAt) {
	text := func(x identAt) string { return strings.TrimSuffix(x.low, "*") }
	sorted := slices.Clone(idents)
	slices.SortFunc(sorted, func(a, b identAt) int { return strings.Compare(text(a), text(b)) })
	for _, pre := range idents {
		prefix, ok := strings.CutSuffix(pre.low, "*")
		if !ok {
			continue
		}
		i, _ := slices.BinarySearchFunc(sorted, prefix, func(x identAt, p string) int { return strings.Compare(text(x), p) })
		for ; i < len(sorted) && strings.HasPrefix(text(sorted[i]), prefix); i++ {
			if o := sorted[i]; o.tenant != pre.tenant {
				ps.add(o.line, o.path, "identifier %q of tenant %q starts with key prefix %q of tenant %q", o.low, o.tenant, pre.low, pre.tenant)
			}
		}
	}
}

// spec is what one mapping (a tenant or the defaults block) sets.
type spec struct {
	// tenant is false for the defaults block, which may not lift a limit.
	tenant      bool
	status      *Status
	identifiers []string
	identLines  []int
	apiKeys     []KeyHash
	keyLines    []int
	clientCerts []string
	redaction   map[string]Action
	rules       map[string]Rule
	retention   map[Signal]time.Duration
	futureSkew  *time.Duration
	residency   *string
	tier        *string
	rpo, rto    *time.Duration
	backends    map[Signal][]string
	credentials map[string]string
	limits      map[string]int64
	sensitivity *float64
	anomalyOn   *bool
}

func (s *spec) applyTo(t *Tenant) {
	if s.status != nil {
		t.Status = *s.status
	}
	if s.identifiers != nil {
		t.Identifiers = s.identifiers
	}
	if s.apiKeys != nil {
		t.APIKeys = s.apiKeys
	}
	if s.clientCerts != nil {
		t.ClientCerts = s.clientCerts
	}
	maps.Copy(t.Redaction.Classes, s.redaction)
	if len(s.rules) > 0 {
		if t.Redaction.Rules == nil {
			t.Redaction.Rules = map[string]Rule{}
		}
		maps.Copy(t.Redaction.Rules, s.rules)
	}
	maps.Copy(t.Retention, s.retention)
	if s.futureSkew != nil {
		t.MaxFutureSkew = *s.futureSkew
	}
	if s.residency != nil {
		t.Residency = *s.residency
	}
	if s.tier != nil {
		t.Tier = *s.tier
	}
	if s.rpo != nil {
		t.Continuity.RPO = *s.rpo
	}
	if s.rto != nil {
		t.Continuity.RTO = *s.rto
	}
	maps.Copy(t.Backends, s.backends)
	if s.credentials != nil {
		t.BackendCredentials = s.credentials
	}
	for k, v := range s.limits {
		*limitField(&t.Limits, k) = v
	}
	if s.sensitivity != nil {
		t.Anomaly.Sensitivity = *s.sensitivity
	}
	if s.anomalyOn != nil {
		t.Anomaly.Enabled = *s.anomalyOn
	}
}

func cloneTenant(t Tenant) Tenant {
	c := t
	c.Redaction.Classes = maps.Clone(t.Redaction.Classes)
	c.Redaction.Rules = maps.Clone(t.Redaction.Rules)
	c.Retention = maps.Clone(t.Retention)
	c.Backends = maps.Clone(t.Backends)
	c.BackendCredentials = maps.Clone(t.BackendCredentials)
	c.Identifiers = slices.Clone(t.Identifiers)
	c.APIKeys = slices.Clone(t.APIKeys)
	c.ClientCerts = slices.Clone(t.ClientCerts)
	return c
}

var limitKeys = []string{
	"records_per_second", "bytes_per_second", "max_request_bytes",
	"max_decompressed_bytes", "max_attributes_per_record", "max_concurrent_requests",
}

func limitField(l *Limits, key string) *int64 {
	switch key {
	case "records_per_second":
		return &l.RecordsPerSecond
	case "bytes_per_second":
		return &l.BytesPerSecond
	case "max_request_bytes":
		return &l.MaxRequestBytes
	case "max_decompressed_bytes":
		return &l.MaxDecompressedBytes
	case "max_attributes_per_record":
		return &l.MaxAttributesPerRecord
	case "max_concurrent_requests":
		return &l.MaxConcurrentRequests
	}
	panic("unknown limit " + key)
}

// specKeys are the keys of a tenant's settings, in the order messages list
// them, each with the function that reads it. The defaults block may set
// the keys that are not tenantOnly.
var specKeys = []struct {
	name       string
	tenantOnly bool
	read       func(ps *parser, s *spec, v *yaml.Node, kp string)
}{
	{"status", false, (*parser).specStatus},
	{"identifiers", true, (*parser).specIdentifiers},
	{"api_keys", true, (*parser).specAPIKeys},
	{"client_certs", true, (*parser).specClientCerts},
	{"redaction", false, (*parser).specRedaction},
	{"retention", false, (*parser).specRetention},
	{"max_future_skew", false, (*parser).specMaxFutureSkew},
	{"residency", false, (*parser).specResidency},
	{"tier", false, (*parser).specTier},
	{"continuity", false, (*parser).specContinuity},
	{"backends", false, (*parser).specBackends},
	{"limits", false, (*parser).specLimits},
	{"anomaly", false, (*parser).specAnomaly},
	{"backend_credentials", true, (*parser).specBackendCredentials},
}

var (
	tenantKeys   = specKeyNames(true)
	defaultsKeys = specKeyNames(false)
	backendRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_/.-]{0,127}$`)
	certFPRE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	tierRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
)

func specKeyNames(tenant bool) []string {
	var names []string
	for _, k := range specKeys {
		if tenant || !k.tenantOnly {
			names = append(names, k.name)
		}
	}
	return names
}

// MinIdentifierLength keeps identifiers from matching common short words.
const MinIdentifierLength = 3

// MinIdentifierPrefixLength is the shortest key prefix ("acme_live_k*"): a
// prefix matches the start of any token, so it needs more than a word does.
const MinIdentifierPrefixLength = 4

// spec reads a tenant's mapping, or the defaults block's when isTenant is
// false, one key at a time through specKeys.
func (ps *parser) spec(n *yaml.Node, path string, isTenant bool) *spec {
	s := &spec{tenant: isTenant}
	if isNull(n) {
		return s
	}
	if n.Kind != yaml.MappingNode {
		ps.add(n.Line, path, "want a mapping of settings, found %s", kindName(n))
		return s
	}
	allowed := defaultsKeys
	if isTenant {
		allowed = tenantKeys
	}
	ps.eachPair(n, path, func(key string, k, v *yaml.Node) {
		kp := path + "." + key
		if !slices.Contains(allowed, key) {
			if slices.Contains(tenantKeys, key) {
				ps.add(k.Line, kp, "only a tenant may set %s, not the defaults block", key)
			} else {
				ps.add(k.Line, kp, "unknown key (want one of: %s)", strings.Join(allowed, ", "))
			}
			return
		}
		for _, sk := range specKeys {
			if sk.name == key {
				sk.read(ps, s, v, kp)
				return
			}
		}
	})
	return s
}

func (ps *parser) specStatus(s *spec, v *yaml.Node, kp string) {
	if str, ok := ps.scalar(v, kp); ok {
		st := Status(str)
		if st != StatusActive && st != StatusSuspended {
			ps.add(v.Line, kp, "must be active or suspended, found %q", str)
			return
		}
		s.status = &st
	}
}

func (ps *parser) specIdentifiers(s *spec, v *yaml.Node, kp string) {
	s.identifiers = []string{}
	seen := map[string]bool{}
	ps.eachScalarItem(v, kp, func(str, ip string, item *yaml.Node) {
		if msg := identifierProblem(str); msg != "" {
			ps.add(item.Line, ip, "%s", msg)
			return
		}
		if seen[strings.ToLower(str)] {
			ps.add(item.Line, ip, "identifier %q is listed twice", str)
			return
		}
		seen[strings.ToLower(str)] = true
		s.identifiers = append(s.identifiers, str)
		s.identLines = append(s.identLines, item.Line)
	})
}

func (ps *parser) specAPIKeys(s *spec, v *yaml.Node, kp string) {
	s.apiKeys = []KeyHash{}
	ps.eachScalarItem(v, kp, func(str, ip string, item *yaml.Node) {
		h, err := ParseKeyHash(str)
		if err != nil {
			ps.add(item.Line, ip, "malformed key hash: %s", err)
			return
		}
		s.apiKeys = append(s.apiKeys, h)
		s.keyLines = append(s.keyLines, item.Line)
	})
}

func (ps *parser) specClientCerts(s *spec, v *yaml.Node, kp string) {
	s.clientCerts = []string{}
	ps.eachScalarItem(v, kp, func(str, ip string, item *yaml.Node) {
		if !certFPRE.MatchString(str) {
			ps.add(item.Line, ip, `malformed certificate fingerprint: want "sha256:" and 64 lower-case hex digits`)
			return
		}
		s.clientCerts = append(s.clientCerts, str)
	})
}

func (ps *parser) specRedaction(s *spec, v *yaml.Node, kp string) {
	s.redaction = map[string]Action{}
	ps.mapping(v, kp, func(rk string, rkn, rv *yaml.Node) {
		if rk == "rules" {
			ps.specRedactionRules(s, rv, kp+".rules")
			return
		}
		if rk != "classes" {
			ps.add(rkn.Line, kp+"."+rk, "unknown key (want: classes, rules)")
			return
		}
		ps.mapping(rv, kp+".classes", func(class string, cn, av *yaml.Node) {
			cp := kp + ".classes." + class
			if !slices.Contains(RedactionClasses, class) {
				ps.add(cn.Line, cp, "unknown redaction class (want one of: %s)", strings.Join(RedactionClasses, ", "))
				return
			}
			if a, ok := ps.action(av, cp); ok {
				s.redaction[class] = a
			}
		})
	})
}

// action reads a redaction action, of a class or of a rule.
func (ps *parser) action(v *yaml.Node, path string) (Action, bool) {
	str, ok := ps.scalar(v, path)
	if !ok {
		return "", false
	}
	a := Action(str)
	if a != ActionMask && a != ActionRemove && a != ActionHash && a != ActionKeep {
		ps.add(v.Line, path, "must be mask, remove, hash or keep, found %q", str)
		return "", false
	}
	return a, true
}

// Limits of tenant-defined rules: each is compiled once per policy
// version, and its name becomes a metric label, so a block's count is
// bounded.
const (
	MaxRulesPerBlock       = 128
	MaxRulePatternLength   = 1024
	MinRuleKeywordLength   = 3
	MaxRuleKeywordLength   = 64
	maxRuleKeywordsPerRule = 16
	// MaxRuleProgram bounds a rule's compiled program: a search costs time
	// per byte in proportion to it, and a short pattern can compile to a
	// large one (`[\w ]{1000}` ten times: 110 characters, 10,002
	// instructions, 4.9 s on one 64 KB string). Rules written for ids,
	// codes and word lists take 16 to 140.
	MaxRuleProgram = 256
)

var ruleNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

// specRedactionRules reads redaction.rules: name -> {pattern, keywords,
// action}. A pattern is compiled here, so a bad one is reported with its
// file and line instead of failing the redactor later.
func (ps *parser) specRedactionRules(s *spec, v *yaml.Node, kp string) {
	if s.rules == nil {
		s.rules = map[string]Rule{}
	}
	ps.mapping(v, kp, func(name string, nn, rv *yaml.Node) {
		rp := kp + "." + name
		switch {
		case !ruleNameRE.MatchString(name):
			ps.add(nn.Line, rp, "rule name must be 2 to 40 lower-case letters, digits or _, starting with a letter")
			return
		case slices.Contains(RedactionClasses, name) || name == "foreign_tenant":
			ps.add(nn.Line, rp, "rule name %q is a built-in class; pick another", name)
			return
		case len(s.rules) >= MaxRulesPerBlock:
			ps.add(nn.Line, rp, "more than %d rules in one block", MaxRulesPerBlock)
			return
		}
		r := Rule{Action: ActionMask}
		var havePattern, haveKeywords, bad bool
		ps.mapping(rv, rp, func(key string, kn, fv *yaml.Node) {
			fp := rp + "." + key
			switch key {
			case "pattern":
				str, ok := ps.scalar(fv, fp)
				if !ok {
					bad = true
					return
				}
				havePattern = true
				if msg := rulePatternProblem(str); msg != "" {
					ps.add(fv.Line, fp, "%s", msg)
					bad = true
					return
				}
				r.Pattern = str
			case "keywords":
				haveKeywords = true
				r.Keywords = []string{}
				ps.eachScalarItem(fv, fp, func(str, ip string, item *yaml.Node) {
					if len(str) < MinRuleKeywordLength || len(str) > MaxRuleKeywordLength || strings.TrimSpace(str) != str {
						ps.add(item.Line, ip, "keyword %q must be %d to %d characters without leading or trailing space (it gates the rule: a short one would run it on most strings)", str, MinRuleKeywordLength, MaxRuleKeywordLength)
						bad = true
						return
					}
					r.Keywords = append(r.Keywords, str)
				})
				if len(r.Keywords) > maxRuleKeywordsPerRule {
					ps.add(fv.Line, fp, "more than %d keywords", maxRuleKeywordsPerRule)
					bad = true
				}
			case "action":
				a, ok := ps.action(fv, fp)
				if !ok {
					bad = true
					return
				}
				r.Action = a
			default:
				ps.add(kn.Line, fp, "unknown key (want: pattern, keywords, action)")
				bad = true
			}
		})
		if isNull(rv) {
			ps.add(nn.Line, rp, "want a mapping with pattern, keywords and action")
			return
		}
		if rv.Kind != yaml.MappingNode {
			return // mapping reported it
		}
		if !havePattern {
			ps.add(nn.Line, rp, "missing pattern")
			bad = true
		}
		if !haveKeywords || (len(r.Keywords) == 0 && !bad) {
			ps.add(nn.Line, rp, "missing keywords: a rule needs at least one, so it runs only on strings that hold one")
			bad = true
		}
		if !bad {
			s.rules[name] = r
		}
	})
}

// rulePatternProblem says what is wrong with a rule's pattern, or "".
func rulePatternProblem(p string) string {
	if len(p) > MaxRulePatternLength {
		return fmt.Sprintf("pattern is longer than %d characters", MaxRulePatternLength)
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return fmt.Sprintf("pattern is not valid RE2 syntax: %s", err)
	}
	// Measured as regexp.Compile builds it; p parsed above, so this cannot fail.
	if sre, err := syntax.Parse(p, syntax.Perl); err == nil {
		if prog, err := syntax.Compile(sre.Simplify()); err == nil && len(prog.Inst) > MaxRuleProgram {
			return fmt.Sprintf("pattern compiles to %d instructions, more than %d (a counted repetition such as {1,1000} multiplies its operand)", len(prog.Inst), MaxRuleProgram)
		}
	}
	if re.MatchString("") {
		return "pattern matches the empty string"
	}
	return ""
}

func (ps *parser) specRetention(s *spec, v *yaml.Node, kp string) {
	s.retention = map[Signal]time.Duration{}
	ps.eachSignal(v, kp, func(sig Signal, sp string, dv *yaml.Node) {
		if str, ok := ps.scalar(dv, sp); ok {
			d, err := ParseRetention(str)
			if err != nil {
				ps.add(dv.Line, sp, "%s", err)
				return
			}
			s.retention[sig] = d
		}
	})
}

func (ps *parser) specMaxFutureSkew(s *spec, v *yaml.Node, kp string) {
	if str, ok := ps.scalar(v, kp); ok {
		d, err := ParseFutureSkew(str)
		if err != nil {
			ps.add(v.Line, kp, "%s", err)
			return
		}
		s.futureSkew = &d
	}
}

func (ps *parser) specResidency(s *spec, v *yaml.Node, kp string) {
	if str, ok := ps.scalar(v, kp); ok {
		if str != "" && !ValidRegion(str) {
			ps.add(v.Line, kp, "want a region label of lower-case letters, digits and '-', found %q", str)
			return
		}
		s.residency = &str
	}
}

// specTier reads a tier: a label dashboards and alerts group tenants by,
// so a short, closed word, not free text.
func (ps *parser) specTier(s *spec, v *yaml.Node, kp string) {
	if str, ok := ps.scalar(v, kp); ok {
		if !tierRE.MatchString(str) {
			ps.add(v.Line, kp, "want a tier of 1 to 32 lower-case letters, digits and '-', found %q", str)
			return
		}
		s.tier = &str
	}
}

// specContinuity reads the recovery targets: continuity: {rpo: 1h, rto: 15m}.
func (ps *parser) specContinuity(s *spec, v *yaml.Node, kp string) {
	ps.mapping(v, kp, func(ck string, cn, cv *yaml.Node) {
		cp := kp + "." + ck
		var dst **time.Duration
		switch ck {
		case "rpo":
			dst = &s.rpo
		case "rto":
			dst = &s.rto
		default:
			ps.add(cn.Line, cp, "unknown key (want: rpo, rto)")
			return
		}
		if str, ok := ps.scalar(cv, cp); ok {
			d, err := ParseRetention(str)
			if err != nil || d <= 0 {
				ps.add(cv.Line, cp, "want a positive duration like 1h, 15m or 1d, found %q", str)
				return
			}
			*dst = &d
		}
	})
}

func (ps *parser) specBackends(s *spec, v *yaml.Node, kp string) {
	s.backends = map[Signal][]string{}
	ps.eachSignal(v, kp, func(sig Signal, sp string, lv *yaml.Node) {
		names := []string{}
		ps.eachScalarItem(lv, sp, func(str, ip string, item *yaml.Node) {
			if !backendRE.MatchString(str) {
				ps.add(item.Line, ip, "malformed backend name %q", str)
				return
			}
			names = append(names, str)
		})
		s.backends[sig] = names
	})
}

func (ps *parser) specBackendCredentials(s *spec, v *yaml.Node, kp string) {
	s.credentials = map[string]string{}
	ps.mapping(v, kp, func(name string, bn, ev *yaml.Node) {
		bp := kp + "." + name
		if !backendRE.MatchString(name) {
			ps.add(bn.Line, bp, "malformed backend name %q", name)
			return
		}
		// The value is never quoted back: it may be a secret pasted
		// where its variable's name belongs.
		if str, ok := ps.scalar(ev, bp); ok {
			if !envNameRE.MatchString(str) {
				ps.add(ev.Line, bp, "want the name of the environment variable holding the credential, never the credential itself")
				return
			}
			s.credentials[name] = str
		}
	})
}

func (ps *parser) specLimits(s *spec, v *yaml.Node, kp string) {
	s.limits = map[string]int64{}
	ps.mapping(v, kp, func(lk string, ln, lv *yaml.Node) {
		lp := kp + "." + lk
		if !slices.Contains(limitKeys, lk) {
			ps.add(ln.Line, lp, "unknown limit (want one of: %s)", strings.Join(limitKeys, ", "))
			return
		}
		if str, ok := ps.scalar(lv, lp); ok {
			n, err := parseQuantity(str)
			if err != nil {
				ps.add(lv.Line, lp, "%s", err)
				return
			}
			if n == 0 && !s.tenant {
				ps.add(lv.Line, lp, "0 (unlimited) would lift the limit for every tenant; set it on the tenants that need it")
				return
			}
			s.limits[lk] = n
		}
	})
}

func (ps *parser) specAnomaly(s *spec, v *yaml.Node, kp string) {
	ps.mapping(v, kp, func(ak string, an, av *yaml.Node) {
		ap := kp + "." + ak
		switch ak {
		case "sensitivity":
			if str, ok := ps.scalar(av, ap); ok {
				f, err := strconv.ParseFloat(str, 64)
				if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
					ps.add(av.Line, ap, "want a number from 0 to 1, found %q", str)
					return
				}
				s.sensitivity = &f
			}
		case "enabled":
			if str, ok := ps.scalar(av, ap); ok {
				b, err := strconv.ParseBool(str)
				if err != nil {
					ps.add(av.Line, ap, "want true or false, found %q", str)
					return
				}
				s.anomalyOn = &b
			}
		default:
			ps.add(an.Line, ap, "unknown key (want: enabled, sensitivity)")
		}
	})
}

func identifierProblem(s string) string {
	prefix, isPrefix := strings.CutSuffix(s, "*")
	switch {
	case strings.TrimSpace(s) != s:
		return fmt.Sprintf("identifier %q has leading or trailing space", s)
	case strings.Contains(prefix, "*"):
		return fmt.Sprintf("identifier %q holds a \"*\" that is not its last character (only a trailing \"*\" is allowed: it marks a key prefix)", s)
	case isPrefix && len(prefix) < MinIdentifierPrefixLength:
		return fmt.Sprintf("identifier %q is a prefix shorter than %d characters and would match ordinary text", s, MinIdentifierPrefixLength)
	case len(s) < MinIdentifierLength:
		return fmt.Sprintf("identifier %q is shorter than %d characters and would match ordinary text", s, MinIdentifierLength)
	case len(s) > 256:
		return "identifier is longer than 256 characters"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Sprintf("identifier %q holds white space or a control character", s)
		}
	}
	return ""
}

// ParseRetention reads a retention duration: Go durations ("72h") plus days
// and weeks ("30d", "2w"), the units people write retention in.
func ParseRetention(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(s, "d") || strings.HasSuffix(s, "w"):
		unit := 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			unit *= 7
		}
		n, perr := strconv.ParseInt(s[:len(s)-1], 10, 32)
		if perr != nil {
			err = perr
		}
		// Past about 292 years a time.Duration wraps round.
		if n > int64(math.MaxInt64/unit) {
			return 0, fmt.Errorf("at most %dd, found %q", math.MaxInt64/int64(24*time.Hour), s)
		}
		d = time.Duration(n) * unit
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 30d, 2w or 72h, found %q", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be positive, found %q", s)
	}
	return d, nil
}

// ParseFutureSkew reads max_future_skew: a duration as ParseRetention
// reads it, or zero.
func ParseFutureSkew(s string) (time.Duration, error) {
	if d, err := ParseRetention(s); err == nil {
		return d, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d == 0 {
		return 0, nil
	}
	return 0, fmt.Errorf("want a duration of 0 or more such as 1h, 30m or 0, found %q", s)
}

// parseQuantity reads a non-negative integer with an optional binary size
// suffix (KiB, MiB, GiB).
func parseQuantity(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = rest, m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a non-negative whole number (KiB, MiB, GiB allowed), found %q", s)
	}
	return n * mult, nil
}

// parser collects problems while walking the YAML tree.
type parser struct {
	file     string
	problems []Problem
}

func (ps *parser) add(line int, key, format string, args ...any) {
	if key == "" {
		key = `""`
	}
	ps.problems = append(ps.problems, Problem{File: ps.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (ps *parser) err() error {
	sort.SliceStable(ps.problems, func(i, j int) bool { return ps.problems[i].Line < ps.problems[j].Line })
	return &ValidationError{Problems: ps.problems}
}

// eachPair walks a mapping's pairs, refusing non-scalar and duplicate keys.
func (ps *parser) eachPair(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node)) {
	if isNull(n) {
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			ps.add(k.Line, path, "keys must be plain strings")
			continue
		}
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			ps.add(k.Line, kp, "declared twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k.Value, k, v)
	}
}

func (ps *parser) mapping(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		ps.add(n.Line, path, "want a mapping, found %s", kindName(n))
		return
	}
	ps.eachPair(n, path, fn)
}

func (ps *parser) eachItem(n *yaml.Node, path string, fn func(i int, item *yaml.Node)) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		ps.add(n.Line, path, "want a list, found %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		fn(i, item)
	}
}

// eachScalarItem walks a list of single values; path[i] names item i.
func (ps *parser) eachScalarItem(n *yaml.Node, path string, fn func(str, ip string, item *yaml.Node)) {
	ps.eachItem(n, path, func(i int, item *yaml.Node) {
		ip := fmt.Sprintf("%s[%d]", path, i)
		if str, ok := ps.scalar(item, ip); ok {
			fn(str, ip, item)
		}
	})
}

// eachSignal walks a mapping keyed by signal name, refusing other keys.
func (ps *parser) eachSignal(n *yaml.Node, path string, fn func(sig Signal, sp string, v *yaml.Node)) {
	ps.mapping(n, path, func(key string, k, v *yaml.Node) {
		sp := path + "." + key
		if !slices.Contains(Signals, Signal(key)) {
			ps.add(k.Line, sp, "unknown signal (want logs, metrics or traces)")
			return
		}
		fn(Signal(key), sp, v)
	})
}

func (ps *parser) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		ps.add(n.Line, path, "want a single value, found %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("the value %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 1
}

// residencyRE is the syntax of a region: a tenant's residency, and the
// region a collector or a backend declares, so the two can be compared.
var residencyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidRegion reports whether s is a region label: lower-case letters,
// digits and '-', at most 63, not starting with '-'.
func ValidRegion(s string) bool { return residencyRE.MatchString(s) }
