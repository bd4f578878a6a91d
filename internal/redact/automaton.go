package redact

import "errors"

// automaton is a dense Aho-Corasick DFA over byte strings, built the way
// github.com/coregx/ahocorasick builds its DFA (same byte classes, same
// failure links, same order of matches), with two differences that matter
// on the hot path: scan (scan.go) appends to a caller's buffer instead of
// returning a fresh slice, so a string that holds a pattern (the owner's own
// domain, "://") costs no allocation, and it folds ASCII case through its
// byte classes, so the haystack needs no lowered copy. The library stays
// the reference in the tests (TestAutomatonMatchesLibrary, FuzzAutomaton).
//
// Patterns must be lower case (NewMatcher and the keyword index lower
// them); scan then matches them ASCII case-insensitively.
type automaton struct {
	// trans[sid+class] is the next premultiplied state id; the states
	// from matchFrom on report matches.
	trans     []uint32
	matchFrom uint32
	classes   [256]uint16
	// info[b] packs what scan needs of byte b: the class of b lowered
	// (bits 0-15) and b's fact kind (16-23).
	info    [256]uint32
	stride2 uint
	// matchOff[state]..matchOff[state+1] index matchData: the patterns
	// ending at that state, own first, then those of its failure chain.
	matchOff  []uint32
	matchData []int32
	lens      []int32
}

// acMatch is one pattern occurrence [start, end) in a haystack.
type acMatch struct {
	pattern, start, end int
}

func newAutomaton(patterns []string) (*automaton, error) {
	if len(patterns) == 0 {
		return nil, errors.New("automaton: no patterns")
	}
	a := &automaton{lens: make([]int32, len(patterns))}
	var used [256]bool
	for i, p := range patterns {
		if p == "" {
			return nil, errors.New("automaton: empty pattern")
		}
		a.lens[i] = int32(len(p))
		for j := 0; j < len(p); j++ {
			used[p[j]] = true
		}
	}
	// Class 0: bytes in no pattern; each used byte its own class.
	nclass := 1
	for b := range 256 {
		if used[b] {
			a.classes[b] = uint16(nclass)
			nclass++
		}
	}
	for b := range 256 {
		lo := lowerTable[b]
		a.info[b] = uint32(a.classes[lo]) | uint32(factKinds[b])<<16
	}
	// Trie.
	type node struct {
		next    []int32
		fail    int32
		matches []int32
	}
	nodes := []node{{next: make([]int32, nclass)}}
	for pi, p := range patterns {
		s := int32(0)
		for j := 0; j < len(p); j++ {
			c := a.classes[p[j]]
			if n := nodes[s].next[c]; n != 0 {
				s = n
				continue
			}
			nodes = append(nodes, node{next: make([]int32, nclass)})
			n := int32(len(nodes) - 1)
			nodes[s].next[c] = n
			s = n
		}
		nodes[s].matches = append(nodes[s].matches, int32(pi))
	}
	// Failure links and match propagation, breadth first, resolving every
	// missing transition into the DFA's as we go.
	queue := make([]int32, 0, len(nodes))
	for c := range nclass {
		if n := nodes[0].next[c]; n != 0 {
			queue = append(queue, n)
		}
	}
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		f := nodes[s].fail
		if f != 0 {
			nodes[s].matches = append(nodes[s].matches, nodes[f].matches...)
		}
		for c := range nclass {
			n := nodes[s].next[c]
			if n == 0 {
				// Missing: take the failure state's (already resolved) move.
				nodes[s].next[c] = nodes[f].next[c]
				continue
			}
			nodes[n].fail = nodes[f].next[c]
			queue = append(queue, n)
		}
	}
	stride := 1
	for stride < nclass {
		stride <<= 1
	}
	for 1<<a.stride2 < stride {
		a.stride2++
	}
	// Number the states that report matches last, so that a step lands on
	// one exactly when its id is at least matchFrom: the hot loops test
	// that beside the step instead of unpacking a flag on it.
	order := make([]int32, 0, len(nodes))
	for _, reporting := range []bool{false, true} {
		for si := range nodes {
			if (len(nodes[si].matches) > 0) == reporting {
				order = append(order, int32(si))
			}
		}
	}
	newID := make([]uint32, len(nodes))
	for ni, si := range order {
		newID[si] = uint32(ni)
		if len(nodes[si].matches) > 0 && a.matchFrom == 0 {
			a.matchFrom = uint32(ni) << a.stride2
		}
	}
	if a.matchFrom == 0 {
		a.matchFrom = uint32(len(nodes)) << a.stride2
	}
	a.trans = make([]uint32, len(nodes)*stride)
	a.matchOff = make([]uint32, len(nodes)+1)
	for ni, si := range order {
		for c := range nclass {
			a.trans[ni<<a.stride2+c] = newID[nodes[si].next[c]] << a.stride2
		}
		a.matchData = append(a.matchData, nodes[si].matches...)
		a.matchOff[ni+1] = uint32(len(a.matchData))
	}
	return a, nil
}
