package redact

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Tenant-defined rules (policy redaction.rules) are classes of their own:
// class ids from firstRule on, one per distinct compiled rule, named by the
// rule in audit attributes and Stats. Their keywords join the one
// automaton after the identifiers and the built-in keywords, so a string
// that holds none of them costs nothing more than the table steps every
// byte already takes; a rule's expression runs only on a string where one
// of its own keywords occurred and only for a tenant that applies it.

// firstRule is the class id of the first tenant-defined rule; numClasses
// itself means "no class" (keyVerdict).
const firstRule = numClasses + 1

// tenantRule is one compiled rule.
type tenantRule struct {
	name string
	re   *regexp.Regexp
}

// ruleIndex holds every distinct rule of a policy and its keywords.
type ruleIndex struct {
	rules []tenantRule
	// keywords are the rules' keywords, lower case and unique, in the order
	// they are given to the automaton; kwRules[k] lists the rules keyword k
	// gates.
	keywords []string
	kwRules  [][]int32
	// kwIndex finds a keyword's index in keywords: a policy may hold a
	// hundred thousand, and a linear search made New quadratic in them.
	kwIndex map[string]int
	// byDef finds a compiled rule by name, pattern and keywords: tenants
	// that inherit a rule from the defaults share one.
	byDef map[string]int32
}

// ruleAction is what one tenant does with one rule.
type ruleAction struct {
	cls    class
	action policy.Action
}

// add compiles r under name, once per distinct definition, and returns its
// class. The policy has validated the pattern, so an error here means the
// policy was built by hand.
func (ix *ruleIndex) add(name string, r policy.Rule) (class, error) {
	def := name + "\x00" + r.Pattern + "\x00" + strings.Join(r.Keywords, "\x00")
	if id, ok := ix.byDef[def]; ok {
		return firstRule + class(id), nil
	}
	re, err := regexp.Compile(r.Pattern)
	if err != nil {
		return 0, err
	}
	if int(firstRule)+len(ix.rules) > int(^class(0)) {
		return 0, errTooManyRules
	}
	id := int32(len(ix.rules))
	if ix.byDef == nil {
		ix.byDef = map[string]int32{}
	}
	ix.byDef[def] = id
	ix.rules = append(ix.rules, tenantRule{name: name, re: re})
	for _, k := range r.Keywords {
		lo := lowerASCII(k)
		ki, ok := ix.kwIndex[lo]
		if !ok {
			if ix.kwIndex == nil {
				ix.kwIndex = map[string]int{}
			}
			ki = len(ix.keywords)
			ix.kwIndex[lo] = ki
			ix.keywords = append(ix.keywords, lo)
			ix.kwRules = append(ix.kwRules, nil)
		}
		if !slices.Contains(ix.kwRules[ki], id) {
			ix.kwRules[ki] = append(ix.kwRules[ki], id)
		}
	}
	return firstRule + class(id), nil
}

// compile adds the rules of redaction red and returns the tenant's actions
// on them, by class; a kept rule is left out, so it never runs.
func (ix *ruleIndex) compile(red policy.Redaction) ([]ruleAction, error) {
	var out []ruleAction
	for _, name := range slices.Sorted(maps.Keys(red.Rules)) {
		r := red.Rules[name]
		if r.Action == policy.ActionKeep {
			continue
		}
		c, err := ix.add(name, r)
		if err != nil {
			return nil, err
		}
		a := r.Action
		if a == "" {
			a = policy.ActionMask
		}
		out = append(out, ruleAction{c, a})
	}
	slices.SortFunc(out, func(a, b ruleAction) int { return int(a.cls) - int(b.cls) })
	return out, nil
}

// ruleHits appends the findings in text of the rules the owner applies
// whose keywords occur among matches (the automaton's, where rule keyword
// k has pattern id base+k). pos maps decoded offsets back, as in layer.
func (ix *ruleIndex) ruleHits(dst []hit, text string, matches []acMatch, base int, ru *rules, pos []int) []hit {
	var ranBuf [4]class
	ran := ranBuf[:0]
	for _, m := range matches {
		k := m.pattern - base
		if k < 0 {
			continue
		}
		for _, id := range ix.kwRules[k] {
			c := firstRule + class(id)
			if slices.Contains(ran, c) || ru.action(c) == policy.ActionKeep {
				continue
			}
			ran = append(ran, c)
			for _, loc := range ix.rules[id].re.FindAllStringIndex(text, -1) {
				a, b := loc[0], loc[1]
				if a == b {
					continue
				}
				if pos != nil {
					a, b = pos[a], pos[b]
				}
				dst = append(dst, hit{a, b, c})
			}
		}
	}
	return dst
}

var errTooManyRules = errors.New("too many distinct redaction rules")
