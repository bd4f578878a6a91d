package redact

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// The audit attributes written on what redaction changed; the names are
// the identity package's, which owns the tenant.* namespace.
const (
	AttrCount         = identity.AttrRedactionCount
	AttrRecords       = identity.AttrRedactionRecords
	AttrClasses       = identity.AttrRedactionClasses
	AttrPolicyVersion = identity.AttrRedactionPolicyVersion
)

// Options configure a Redactor beyond the policy.
type Options struct {
	// HashKeys maps a key id to its secret. The id is written into every
	// hash ("<hash:ID:...>") so keys can rotate: old outputs still say which
	// key made them.
	HashKeys map[string][]byte
	// ActiveHashKey is the id in HashKeys that new hashes use. Required when
	// any tenant (or the defaults) hashes a class.
	ActiveHashKey string
}

// Redactor applies one policy version. It is immutable and safe for
// concurrent use.
type Redactor struct {
	m       *Matcher
	rix     ruleIndex
	version string
	keyID   string
	rules   []rules // by tenant index of m
	none    rules   // records without an owner
	// masks[c] is what the mask action writes for class c, made once: a
	// concatenation per finding was an allocation per changed value.
	masks []string
	// byName lists the built-in classes in the order of their names, the
	// order of the tenant.redaction.classes attribute, and rank[c] is
	// class c's place in it.
	byName []class
	rank   [numClasses]uint8
}

// rules are one tenant's compiled class actions.
type rules struct {
	owner   int32
	label   string
	actions [numClasses]policy.Action
	// active holds the detectors whose class is not kept.
	active detectorSet
	// custom are the tenant-defined rules it applies, by class.
	custom  []ruleAction
	hashKey []byte
}

// action is the tenant's action on class c, built in or its own.
func (ru *rules) action(c class) policy.Action {
	if c < numClasses {
		return ru.actions[c]
	}
	if i, ok := slices.BinarySearchFunc(ru.custom, c, func(a ruleAction, c class) int { return int(a.cls) - int(c) }); ok {
		return ru.custom[i].action
	}
	return policy.ActionKeep
}

// className is the audit name of class c.
func (r *Redactor) className(c class) string {
	if c >= firstRule {
		return r.rix.rules[c-firstRule].name
	}
	return c.String()
}

// New compiles p for redaction.
func New(p *policy.Policy, opts Options) (*Redactor, error) {
	// Tenant-defined rules first: their keywords go into the automaton.
	r := &Redactor{version: p.Version, keyID: opts.ActiveHashKey}
	ids := p.TenantIDs()
	custom := make([][]ruleAction, len(ids)+1)
	for i, id := range ids {
		t, _ := p.Tenant(id)
		c, err := r.rix.compile(t.Redaction)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: redaction rule: %w", id, err)
		}
		custom[i] = c
	}
	c, err := r.rix.compile(p.Defaults.Redaction)
	if err != nil {
		return nil, fmt.Errorf("defaults: redaction rule: %w", err)
	}
	custom[len(ids)] = c
	r.rix.kwIndex = nil // only the build looks keywords up
	m, err := newMatcher(p, r.rix.keywords)
	if err != nil {
		return nil, err
	}
	r.m = m
	r.rules = make([]rules, len(m.ids))
	r.masks = make([]string, int(firstRule)+len(r.rix.rules))
	for c := range r.masks {
		if c != int(numClasses) { // numClasses names no class
			r.masks[c] = "<redacted:" + r.className(class(c)) + ">"
		}
	}
	for c := range numClasses {
		r.byName = append(r.byName, c)
	}
	slices.SortFunc(r.byName, func(a, b class) int { return strings.Compare(a.String(), b.String()) })
	for i, c := range r.byName {
		r.rank[c] = uint8(i)
	}
	var secret []byte
	if opts.ActiveHashKey != "" {
		s, ok := opts.HashKeys[opts.ActiveHashKey]
		if !ok || len(s) == 0 {
			return nil, fmt.Errorf("active_hash_key %q: no such key in hash_keys", opts.ActiveHashKey)
		}
		secret = s
	}
	build := func(t *policy.Tenant, owner int32, label string, custom []ruleAction) (rules, error) {
		ru := rules{owner: owner, label: label, custom: custom}
		hashed := ""
		for i, name := range policy.RedactionClasses {
			a := t.Redaction.Classes[name]
			if a == "" {
				a = policy.ActionKeep
			}
			ru.actions[i] = a
			if a != policy.ActionKeep {
				for di, d := range detectors {
					if int(d.cls) == i {
						ru.active |= 1 << di
					}
				}
			}
			if a == policy.ActionHash && hashed == "" {
				hashed = "class " + name
			}
		}
		for _, ra := range custom {
			if ra.action == policy.ActionHash && hashed == "" {
				hashed = "rule " + r.className(ra.cls)
			}
		}
		ru.actions[classForeign] = policy.ActionMask
		if hashed != "" {
			if secret == nil {
				return ru, fmt.Errorf("tenant %q hashes %s but no active_hash_key is configured", label, hashed)
			}
			k, err := TenantHashKey(secret, t.ID)
			if err != nil {
				return ru, fmt.Errorf("derive hash key for tenant %q: %w", label, err)
			}
			ru.hashKey = k
		}
		return ru, nil
	}
	for i, id := range m.ids {
		t, _ := p.Tenant(id)
		if r.rules[i], err = build(t, int32(i), id, custom[i]); err != nil {
			return nil, err
		}
	}
	if r.none, err = build(&p.Defaults, noOwner, "_none", custom[len(ids)]); err != nil {
		return nil, err
	}
	return r, nil
}

// hashToken is what the hash action writes for value under a tenant's
// derived key: the key id, so a reader knows which secret made it, and
// the first 16 bytes of HMAC-SHA256.
func hashToken(tenantKey []byte, keyID, value string) string {
	mac := hmac.New(sha256.New, tenantKey)
	mac.Write([]byte(value))
	return "<hash:" + keyID + ":" + hex.EncodeToString(mac.Sum(nil)[:16]) + ">"
}

// Pseudonym is the hash action's output for value in a record of tenant
// ("" for records no declared tenant owns) under hash key keyID with
// secret. It is how an inactive key is used after a rotation: the
// processor hashes only with the active key, and an old pseudonym is
// re-derived or checked with the secret it names (tenancyctl redact
// pseudonym).
func Pseudonym(secret []byte, keyID, tenant, value string) (string, error) {
	k, err := TenantHashKey(secret, tenant)
	if err != nil {
		return "", err
	}
	return hashToken(k, keyID, value), nil
}

// TenantHashKey derives tenant's HMAC key for the hash action from the
// secret of a hash key, so one secret gives every tenant a key of its own
// (two tenants' hashes of one value differ and cannot be joined).
func TenantHashKey(secret []byte, tenant string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "tenancy/redact/v1/"+tenant, 32)
}

// Matcher returns the foreign-identifier matcher of this policy version.
func (r *Redactor) Matcher() *Matcher { return r.m }

// PolicyVersion is the version of the policy r applies.
func (r *Redactor) PolicyVersion() string { return r.version }

// rulesFor returns the rules of the resource owner named by tenant.id.
func (r *Redactor) rulesFor(tenantID string) *rules {
	if i := r.m.owner(tenantID); i != noOwner {
		return &r.rules[i]
	}
	return &r.none
}

// label is the Stats tenant of a resource: the declared or reserved tenant,
// else "_none", so labels stay bounded by the policy.
func statsTenant(ru *rules, tenantID string) string {
	if ru.owner == noOwner && (tenantID == policy.Quarantine || tenantID == policy.Governance) {
		return tenantID
	}
	return ru.label
}

// StatKey names a Stats counter.
type StatKey struct{ Tenant, Class string }

// Stats counts redactions per tenant and class, and the records changed.
type Stats struct {
	// Redactions per tenant and class.
	Redactions map[StatKey]int64
	// Records changed per tenant (log records, spans, datapoints, resources).
	Records map[string]int64
}

// Add adds o into s.
func (s *Stats) Add(o Stats) {
	for k, v := range o.Redactions {
		s.add(k, v)
	}
	for k, v := range o.Records {
		if s.Records == nil {
			s.Records = map[string]int64{}
		}
		s.Records[k] += v
	}
}

func (s *Stats) add(k StatKey, v int64) {
	if s.Redactions == nil {
		s.Redactions = map[StatKey]int64{}
	}
	s.Redactions[k] += v
}

// Total is the number of redactions in s.
func (s *Stats) Total() int64 {
	var n int64
	for _, v := range s.Redactions {
		n += v
	}
	return n
}

// pass is the state of one Logs/Metrics/Traces call: scratch buffers and the
// counts of the record being redacted. It is never shared.
type pass struct {
	r      *Redactor
	ru     *rules
	tenant string
	spans  []Span
	hits   []hit
	segs   []segment
	// drop holds the positions of the attributes to remove from the maps
	// being redacted, innermost last (attrs).
	drop []int
	// matches and states are scratch space for the automaton.
	sc     scanBuf
	counts [numClasses]int32
	// ruleCounts counts the current record's tenant-defined rule findings.
	ruleCounts []classCount
	// resCounts, resRules and resRecords are the current resource's
	// findings and changed records, folded into stats when it ends.
	resCounts  [numClasses]int64
	resRules   []classCount
	resRecords int64
	// resNew counts the current resource's records this pass changed
	// that no earlier pass had.
	resNew int64
	stats  Stats
	// keys caches what an attribute key means for the current resource's
	// owner: keys repeat on every record, and their verdict is exact.
	keys map[string]*keyVerdict
	// audit holds the slabs the audit attributes are written into.
	audit auditArena
	// text holds the chunk log bodies' replaced strings are cut from;
	// carve is set while a log body is redacted.
	text  textArena
	carve bool
	// slots remember the verdict of the key last seen at each position of
	// a record's attribute map: records of one kind list the same keys in
	// the same order, and comparing a key is cheaper than hashing it.
	slots [16]keySlot
	// severity is the last log severity text of the current resource that
	// needed no change (setClean).
	severity cleanMemo
	// classes is flush's scratch list of a record's class names.
	classes []string
}

// cleanMemo is the last value of a field that needed no change under the
// current resource's rules.
type cleanMemo struct {
	s  string
	ok bool
}

type classCount struct {
	cls class
	n   int32
}

// count counts one finding of class c on the current record.
func (ps *pass) count(c class) {
	if c < numClasses {
		ps.counts[c]++
		return
	}
	ps.ruleCounts = addCount(ps.ruleCounts, c, 1)
}

type keySlot struct {
	k string
	v *keyVerdict
}

// keyVerdict is what an attribute key means: it names another tenant, or
// its value is wholly of a class (numClasses: none).
type keyVerdict struct {
	foreign bool
	cls     class
	// clean is the last value under this key that needed no change under
	// the current rules. Values repeat under a key (a method, a route, a
	// user agent), and redacting a string depends only on the string and
	// the rules, so an equal value needs no scan.
	clean   string
	isClean bool
}

// maxKeyCache bounds the key cache; keys past it are judged every time.
const maxKeyCache = 1024

func (ps *pass) key(k string) *keyVerdict {
	if v, ok := ps.keys[k]; ok {
		return v
	}
	v := &keyVerdict{foreign: ps.foreignIn(k), cls: keyClass(k)}
	if len(ps.keys) < maxKeyCache {
		if ps.keys == nil {
			ps.keys = make(map[string]*keyVerdict, 32)
		}
		ps.keys[k] = v
	}
	return v
}

// keyAt is key for the key at position i of a record's attribute map.
func (ps *pass) keyAt(i int, k string) *keyVerdict {
	if i >= len(ps.slots) {
		return ps.key(k)
	}
	sl := &ps.slots[i]
	if sl.v != nil && sl.k == k {
		return sl.v
	}
	v := ps.key(k)
	*sl = keySlot{k, v}
	return v
}

func (r *Redactor) newPass() *pass { return &pass{r: r} }

func (ps *pass) resource(attrs pcommon.Map) {
	ps.fold()
	// A resource without exactly one string tenant.id belongs to no one:
	// every tenant's identifiers are foreign to it.
	id, _ := identity.TenantOf(attrs)
	ps.ru = ps.r.rulesFor(id)
	ps.tenant = statsTenant(ps.ru, id)
	clear(ps.keys)
	ps.slots = [len(ps.slots)]keySlot{}
	ps.severity = cleanMemo{}
}

// flush ends a record (a log record, span or data point) whose
// attributes are attrs: if it changed, the classes removed from it are
// stamped on it, and its counts go to its resource's, which endResource
// stamps on the resource. Only the class list is per record: the count and
// the policy version were two more attributes on every changed record,
// about half its size on the wire where every record changes (issue 18),
// and the version is the same for a whole resource.
func (ps *pass) flush(attrs pcommon.Map) {
	ps.audit.left--
	// Most records change nothing: one comparison, not a loop over classes.
	if ps.counts == ([numClasses]int32{}) && len(ps.ruleCounts) == 0 {
		return
	}
	set := ps.collect()
	// The class names in order without sorting, when the record holds
	// built-in classes only and passes for the first time, in the pass's
	// scratch list (an array on the stack was cleared on every record).
	classes, sorted := ps.classNames(ps.classes[:0], set, ps.ruleCounts)
	ps.classes = classes[:0]
	ps.ruleCounts = ps.ruleCounts[:0]
	// A record may pass twice (a second collector); add to what is there.
	// Only a non-empty list is an earlier pass's: anything else under the
	// key (a string, an empty list) no redactor wrote, and the record
	// counts as newly changed, so its resource counts every record that
	// carries classes. A record with nothing under the key is looked up
	// once.
	_, had := attrs.Get(AttrClasses)
	var old pcommon.Slice
	again := false
	if had {
		old, again = identity.RedactionClasses(attrs)
	}
	if again {
		classes, sorted = mergeClasses(classes, sorted, old)
	}
	if !sorted {
		slices.Sort(classes)
	}
	if !again {
		ps.resNew++
		// The fast path appends the key: only where there is none.
		if !had && ps.audit.write(attrs, classes) {
			return
		}
	}
	putClasses(attrs, classes)
}

// flushOwn ends a change to the resource itself (its attributes, a scope,
// a metric without points): its counts go to the resource's.
func (ps *pass) flushOwn() {
	if ps.counts == ([numClasses]int32{}) && len(ps.ruleCounts) == 0 {
		return
	}
	ps.collect()
	ps.ruleCounts = ps.ruleCounts[:0]
}

// collect moves the current record's counts to its resource's and returns
// the set of built-in classes it holds.
func (ps *pass) collect() (set uint32) {
	for c, n := range ps.counts {
		if n != 0 {
			set |= 1 << c
			ps.resCounts[c] += int64(n)
		}
	}
	for _, cc := range ps.ruleCounts {
		ps.resRules = addCount(ps.resRules, cc.cls, cc.n)
	}
	ps.counts = [numClasses]int32{}
	ps.resRecords++
	return set
}

// classNames appends the names of the built-in classes in set, in name
// order, then those of rules not already there, and reports whether the
// result is sorted.
func (ps *pass) classNames(classes []string, set uint32, rules []classCount) ([]string, bool) {
	// The set's classes by their places in name order, then read in that
	// order: a step per class in the set, not one per built-in class.
	var ranked uint32
	for ; set != 0; set &= set - 1 {
		ranked |= 1 << ps.r.rank[bits.TrailingZeros32(set)]
	}
	for ; ranked != 0; ranked &= ranked - 1 {
		classes = append(classes, ps.r.byName[bits.TrailingZeros32(ranked)].String())
	}
	sorted := true
	for _, cc := range rules {
		name := ps.r.className(cc.cls)
		// Two tenants' rules may share a name with different patterns.
		if !slices.Contains(classes, name) {
			classes = append(classes, name)
			sorted = false
		}
	}
	return classes, sorted
}

// mergeClasses adds the class names of old that classes lacks; a long
// list is merged through a set, not by a search per name.
func mergeClasses(classes []string, sorted bool, old pcommon.Slice) ([]string, bool) {
	var seen map[string]struct{}
	if old.Len() > 16 {
		seen = make(map[string]struct{}, len(classes)+old.Len())
		for _, c := range classes {
			seen[c] = struct{}{}
		}
	}
	for _, e := range old.All() {
		c := e.AsString()
		if seen != nil {
			if _, ok := seen[c]; ok {
				continue
			}
			seen[c] = struct{}{}
		} else if slices.Contains(classes, c) {
			continue
		}
		classes = append(classes, c)
		sorted = false
	}
	return classes, sorted
}

// addCapped is a+b for an earlier pass's count b: a negative b is no
// redactor's and adds nothing, and the sum stops at the largest int64
// instead of wrapping.
func addCapped(a, b int64) int64 {
	if b <= 0 {
		return a
	}
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// putClasses writes the class list under AttrClasses.
func putClasses(attrs pcommon.Map, classes []string) {
	sl := attrs.PutEmptySlice(AttrClasses)
	sl.EnsureCapacity(len(classes))
	for _, c := range classes {
		sl.AppendEmpty().SetStr(c)
	}
}

// endResource stamps res, if anything in it changed, with the values
// changed in it and its records, the records changed, the classes of all
// of them and the policy version, adding to what an earlier pass wrote,
// and folds its counts into the Stats.
func (ps *pass) endResource(res pcommon.Map) {
	var total int64
	var set uint32
	for c, n := range ps.resCounts {
		if n != 0 {
			total += n
			set |= 1 << c
		}
	}
	for _, cc := range ps.resRules {
		total += int64(cc.n)
	}
	if total > 0 {
		records := ps.resNew
		var buf [numClasses + 4]string
		classes, sorted := ps.classNames(buf[:0], set, ps.resRules)
		if v, ok := res.Get(AttrCount); ok && v.Type() == pcommon.ValueTypeInt {
			total = addCapped(total, v.Int())
			if r, ok := res.Get(AttrRecords); ok && r.Type() == pcommon.ValueTypeInt {
				records = addCapped(records, r.Int())
			}
			if old, ok := identity.RedactionClasses(res); ok {
				classes, sorted = mergeClasses(classes, sorted, old)
			}
		}
		if !sorted {
			slices.Sort(classes)
		}
		res.EnsureCapacity(res.Len() + 4)
		res.PutInt(AttrCount, total)
		res.PutInt(AttrRecords, records)
		putClasses(res, classes)
		res.PutStr(AttrPolicyVersion, ps.r.version)
	}
	ps.resNew = 0
	ps.fold()
}

// classesFit fails to compile when the built-in classes outgrow flush's
// 32-bit set.
var _ = [1]struct{}{}[numClasses/32]

// addCount adds n findings of class c to counts.
func addCount(counts []classCount, c class, n int32) []classCount {
	for i := range counts {
		if counts[i].cls == c {
			counts[i].n += n
			return counts
		}
	}
	return append(counts, classCount{c, n})
}

// fold adds the current resource's counts to the Stats, under its tenant,
// and resets them: a Stats key per class per resource, not per record.
func (ps *pass) fold() {
	for c, n := range ps.resCounts {
		if n != 0 {
			ps.stats.add(StatKey{ps.tenant, class(c).String()}, n)
		}
	}
	for _, cc := range ps.resRules {
		ps.stats.add(StatKey{ps.tenant, ps.r.className(cc.cls)}, int64(cc.n))
	}
	if ps.resRecords > 0 {
		if ps.stats.Records == nil {
			ps.stats.Records = map[string]int64{}
		}
		ps.stats.Records[ps.tenant] += ps.resRecords
	}
	ps.resCounts, ps.resRules, ps.resRecords = [numClasses]int64{}, ps.resRules[:0], 0
}

// done ends the pass and returns what it did.
func (ps *pass) done() Stats {
	ps.fold()
	return ps.stats
}

// skipKey names the attributes redaction never touches: the pipeline's own
// tenant.* keys (the routing key, the quarantine's evidence and
// attribution, the audit trail), by exact name. The tenant processor has
// removed every other tenant.* key a client wrote, and a name alone earns
// no trust: anything else is scanned.
func skipKey(k string) bool { return identity.PipelineKey(k) }

// keyNames are attribute names (or their last "." "_" "-" separated part)
// whose whole value is of a class, in the order they are tried. host.name
// is not an endpoint: it is the resource's own identity, which dashboards
// group by.
var keyNames = []struct {
	cls   class
	names []string
}{
	{clsAuthHeader, []string{"authorization"}},
	{clsSecretPair, []string{"password", "passwd", "pwd", "passphrase", "secret", "apikey", "api_key", "api-key", "access_key", "secret_key", "private_key", "token", "cookie"}},
	{clsUsername, []string{"user", "username", "user_name", "user.name", "login", "enduser.id"}},
	{clsEndpoint, []string{"host", "hostname", "server.address", "db.name", "db.namespace", "bucket"}},
}

// keyClass returns the class a whole value has because of its attribute
// name, or numClasses.
func keyClass(k string) class {
	// Every name above ends in one of these letters; most keys do not.
	if k == "" || strings.IndexByte("destynrDESTYNR", k[len(k)-1]) < 0 {
		return numClasses
	}
	for _, kn := range keyNames {
		for _, n := range kn.names {
			if hasSuffixWord(k, n) {
				return kn.cls
			}
		}
	}
	return numClasses
}

// hasSuffixWord reports whether k ends with name, ASCII case-insensitively,
// at the start of k or after a separator.
func hasSuffixWord(k, name string) bool {
	if len(k) < len(name) || !strings.EqualFold(k[len(k)-len(name):], name) {
		return false
	}
	i := len(k) - len(name)
	return i == 0 || k[i-1] == '.' || k[i-1] == '_' || k[i-1] == '-'
}

// attrs redacts an attribute map. top marks a record's own attribute map,
// where the tenant and audit attributes live. It ranges over the map, which
// costs no call per attribute as RemoveIf's callback did, and removes the
// rare attribute that goes afterwards, by its position.
func (ps *pass) attrs(m pcommon.Map, top bool) {
	base := len(ps.drop)
	i := -1
	for k, v := range m.All() {
		i++
		if ps.attr(k, v, i, top) {
			ps.drop = append(ps.drop, i)
		}
	}
	if len(ps.drop) == base {
		return
	}
	drop := ps.drop[base:]
	j := -1
	m.RemoveIf(func(string, pcommon.Value) bool {
		j++
		if len(drop) > 0 && drop[0] == j {
			drop = drop[1:]
			return true
		}
		return false
	})
	ps.drop = ps.drop[:base]
}

// attr redacts attribute k, at position i of its map, and reports whether
// it goes.
func (ps *pass) attr(k string, v pcommon.Value, i int, top bool) (remove bool) {
	if top && skipKey(k) {
		return false
	}
	var kv *keyVerdict
	if top {
		kv = ps.keyAt(i, k)
	} else {
		kv = ps.key(k)
	}
	if kv.foreign {
		ps.counts[classForeign]++
		return true
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		out, changed, remove := ps.attrValue(kv, v.Str())
		if remove {
			return true
		}
		if changed {
			v.SetStr(out)
		}
	case pcommon.ValueTypeBytes:
		// Bytes that are text are text to a reader of the store: an
		// identifier in them leaks as surely as in a string.
		b := v.Bytes().AsRaw()
		if !utf8.Valid(b) {
			return false
		}
		out, changed, remove := ps.attrValue(kv, string(b))
		if remove {
			return true
		}
		if changed {
			v.SetEmptyBytes().FromRaw([]byte(out))
		}
	case pcommon.ValueTypeMap:
		ps.attrs(v.Map(), false)
	case pcommon.ValueTypeSlice:
		ps.slice(v.Slice())
	}
	return false
}

// attrValue redacts the text value s of an attribute whose key verdict is
// kv. remove reports that the whole attribute goes.
func (ps *pass) attrValue(kv *keyVerdict, s string) (out string, changed, remove bool) {
	if c := kv.cls; c != numClasses && s != "" {
		a := ps.ru.actions[c]
		// A foreign identifier under a secret's or a name's key is audited
		// as what it is, the stricter finding.
		if a != policy.ActionKeep && ps.foreignIn(s) {
			c = classForeign
			if a == policy.ActionHash {
				a = policy.ActionMask
			}
		}
		switch a {
		case policy.ActionRemove:
			ps.counts[c]++
			return "", false, true
		case policy.ActionMask, policy.ActionHash:
			ps.counts[c]++
			return ps.replacement(a, c, s), true, false
		}
	}
	if kv.isClean && s == kv.clean {
		return s, false, false
	}
	out, changed, removed := ps.str(s)
	if removed {
		return "", false, true
	}
	if !changed {
		kv.clean, kv.isClean = s, true
	}
	return out, changed, false
}

func (ps *pass) slice(s pcommon.Slice) {
	for _, v := range s.All() {
		ps.value(v)
	}
}

// value redacts a body or slice element; "remove" deletes the substring.
func (ps *pass) value(v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if out, changed, _ := ps.str(v.Str()); changed {
			v.SetStr(out)
		}
	case pcommon.ValueTypeBytes:
		if b := v.Bytes().AsRaw(); utf8.Valid(b) {
			if out, changed, _ := ps.str(string(b)); changed {
				v.SetEmptyBytes().FromRaw([]byte(out))
			}
		}
	case pcommon.ValueTypeMap:
		ps.attrs(v.Map(), false)
	case pcommon.ValueTypeSlice:
		ps.slice(v.Slice())
	}
}

// setStr redacts a string field through its setter.
func (ps *pass) setStr(s string, set func(string)) {
	if out, changed, _ := ps.str(s); changed {
		set(out)
	}
}

// setClean is setStr for a field whose value repeats from record to
// record (a log's severity text, "Info" on most): a value equal to the
// last one memo holds needed no change, so it needs no scan. Redacting a
// string depends only on the string and the resource's rules (resource
// forgets the memo), and a string that needs no change counts nothing.
func (ps *pass) setClean(memo *cleanMemo, s string, set func(string)) {
	if memo.ok && s == memo.s {
		return
	}
	out, changed, _ := ps.str(s)
	if changed {
		set(out)
		return
	}
	*memo = cleanMemo{s, true}
}

// foreignIn reports whether s holds another tenant's identifier.
func (ps *pass) foreignIn(s string) bool {
	ps.spans, ps.sc.matches, ps.sc.states = ps.r.m.find(ps.spans[:0], ps.sc.matches, ps.sc.states, s, ps.ru.owner)
	return len(ps.spans) > 0
}

// str redacts s. removed reports that a finding's action is remove (the
// finding itself is already cut out of out).
func (ps *pass) str(s string) (out string, changed, removed bool) {
	if s == "" {
		return s, false, false
	}
	ps.spans, ps.hits = ps.spans[:0], ps.hits[:0]
	if esc := ps.layer(s, nil); esc && hasEscapes(s) {
		if dec, pos, ok := unescapeLayers(s); ok {
			ps.layer(dec, pos)
		}
	}
	for _, sp := range ps.spans {
		ps.hits = append(ps.hits, hit{sp.Start, sp.End, classForeign})
	}
	if len(ps.hits) == 0 {
		return s, false, false
	}
	return ps.apply(s, ps.hits)
}

// layer appends what text holds to ps.spans (foreign identifiers) and
// ps.hits (findings of the classes the tenant does not keep) and reports
// whether text may hold an escape. pos, for text decoded from the string
// being redacted, maps text's offsets back to that string's.
func (ps *pass) layer(text string, pos []int) (esc bool) {
	m := ps.r.m
	ps.sc.matches = ps.sc.matches[:0]
	flags := m.ac.scanInto(&ps.sc, text)
	ps.spans = m.findPlain(ps.spans, text, ps.sc.matches, ps.ru.owner, pos)
	// Both sets hold only the tenant's active detectors.
	set := keywordHits(text, ps.sc.matches, len(m.patterns), ^ps.ru.active)
	if set |= gated(text, flags, ps.ru.active&^set); set != 0 {
		n := len(ps.hits)
		ps.hits = detect(ps.hits, text, set)
		for i := n; pos != nil && i < len(ps.hits); i++ {
			ps.hits[i].start, ps.hits[i].end = pos[ps.hits[i].start], pos[ps.hits[i].end]
		}
	}
	if len(ps.ru.custom) > 0 {
		ps.hits = ps.r.rix.ruleHits(ps.hits, text, ps.sc.matches, m.ruleBase, ps.ru, pos)
	}
	return flags&escBit != 0
}

// apply replaces the findings in s. Overlapping findings merge into one
// range that takes the strictest action among them (remove > mask > hash);
// a foreign identifier is always at least masked. The output is built in
// one allocation of its exact size (in a log body, a slice of a shared
// chunk), or none when one finding is the whole string.
func (ps *pass) apply(s string, hits []hit) (string, bool, bool) {
	// One finding (an e-mail value, a body naming one tenant) has no
	// order to put right; the call was a tenth of apply.
	if len(hits) > 1 {
		slices.SortFunc(hits, func(a, b hit) int {
			if a.start != b.start {
				return a.start - b.start
			}
			return b.end - a.end
		})
	}
	segs := ps.segs[:0]
	size, removed := len(s), false
	for i := 0; i < len(hits); {
		start, end := hits[i].start, hits[i].end
		var seenBuf [4]class
		seen := seenBuf[:0]
		primary := hits[i].cls
		j := i
		for ; j < len(hits) && hits[j].start < end; j++ {
			end = max(end, hits[j].end)
			c := hits[j].cls
			if c == classForeign {
				primary = c
			}
			if !slices.Contains(seen, c) {
				seen = append(seen, c)
				ps.count(c)
			}
		}
		action := policy.ActionHash
		for _, c := range seen {
			switch ps.ru.action(c) {
			case policy.ActionRemove:
				action = policy.ActionRemove
			case policy.ActionMask:
				if action != policy.ActionRemove {
					action = policy.ActionMask
				}
			}
		}
		sg := segment{start: start, end: end}
		if action == policy.ActionRemove {
			removed = true
		} else {
			sg.repl = ps.replacement(action, primary, s[start:end])
		}
		size += len(sg.repl) - (end - start)
		segs = append(segs, sg)
		i = j
	}
	ps.segs = segs
	if len(segs) == 1 && segs[0].start == 0 && segs[0].end == len(s) {
		return segs[0].repl, true, removed
	}
	if size == 0 {
		return "", true, removed
	}
	var b []byte
	if ps.carve {
		b = ps.text.build(size, ps.audit.left)
	} else {
		b = make([]byte, 0, size)
	}
	last := 0
	for _, sg := range segs {
		b = append(b, s[last:sg.start]...)
		b = append(b, sg.repl...)
		last = sg.end
	}
	b = append(b, s[last:]...)
	return str(b), true, removed
}

// segment is one merged range of findings and what replaces it ("" when
// it is removed).
type segment struct {
	start, end int
	repl       string
}

// replacement is what a mask or hash writes in place of value.
func (ps *pass) replacement(a policy.Action, c class, value string) string {
	if a == policy.ActionHash && ps.ru.hashKey != nil {
		return hashToken(ps.ru.hashKey, ps.r.keyID, value)
	}
	return ps.r.masks[c]
}
