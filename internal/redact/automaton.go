package redact

import (
	"errors"
	"fmt"
	"math"
)

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
	info [256]uint32
	// stride is the number of classes, so a state's row is exactly as wide
	// as it needs to be (a power of two wasted up to half the table: 43
	// classes took 64); recip turns a premultiplied id back into a state
	// without a division (state).
	stride uint32
	recip  uint64
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
	if uint64(len(nodes))*uint64(nclass) > math.MaxUint32 {
		return nil, fmt.Errorf("automaton: %d states of %d classes do not fit 32-bit ids", len(nodes), nclass)
	}
	a.stride = uint32(nclass)
	a.recip = (1<<32 + uint64(a.stride) - 1) / uint64(a.stride)
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
			a.matchFrom = uint32(ni) * a.stride
		}
	}
	if a.matchFrom == 0 {
		a.matchFrom = uint32(len(nodes)) * a.stride
	}
	a.trans = make([]uint32, len(nodes)*nclass)
	a.matchOff = make([]uint32, len(nodes)+1)
	for ni, si := range order {
		for c := range nclass {
			a.trans[ni*nclass+c] = newID[nodes[si].next[c]] * a.stride
		}
		a.matchData = append(a.matchData, nodes[si].matches...)
		a.matchOff[ni+1] = uint32(len(a.matchData))
	}
	return a, nil
}

// state is the state of premultiplied id sid: sid / stride, by the
// reciprocal. It is exact because sid is a multiple of stride below 2^32:
// sid*recip = state*(2^32 + e) with e < stride, and state*e < sid.
func (a *automaton) state(sid uint32) uint32 { return uint32(uint64(sid) * a.recip >> 32) }
