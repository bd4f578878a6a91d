package redact

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// State ids are byte offsets: a dense state's id is the offset of its row
// in trans, and a byte's column (col) is the address of its class's
// word in the first row, so the hot loop's step is one load at that
// address plus the id (scan.go)
// with no multiply or add on the chain of dependent loads it waits on.
// newAutomaton checks that every id in the tables is a row's offset or a
// sparse state's, which is what lets that load go unchecked.

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
//
// Only shallow states, and deep ones whose row differs from their nearest
// dense failure state's in more than maxExceptions classes, have a dense
// row. A deep state inside one identifier ("cust04711.exam") differs from
// its failure state in a class or two, so it is stored as those
// exceptions and a pointer to the dense row that answers the rest: at
// 10,000 tenants with four identifiers each, 24 MB of rows became 9 MB
// (TestAutomatonSize). Ordinary text stays in dense states; a sparse step
// costs a short scan and one more load, only inside an identifier.
type automaton struct {
	// trans[(sid+4*class)/4] is the next state id of dense state sid (the
	// byte offset of its row); dense states from matchFrom on report
	// matches, and their ids, and only theirs among dense ids, have
	// matchBit set (their rows start a word after a row's offset; the
	// table has one word more than its rows for the last one). Ids from
	// sparseFrom on are sparse states, sparseFrom+k for sparse[k], and
	// report matches when their matchOff range is not empty.
	trans      []uint32
	matchFrom  uint32
	sparseFrom uint32
	sparse     []sparseState
	// excClass[j] (a class's column offset, 4*class) and excNext[j] are
	// the exceptions of the sparse states.
	excClass []uint16
	excNext  []uint32
	classes  [256]uint16
	// col[b] is byte b's column in the first row of trans (its class's,
	// b lowered), and fact[b] is the row of b's fact kind in factTable:
	// what a step of scan needs of b, as addresses, so that the loop adds
	// nothing to them before the loads it waits on. A dense state's move on
	// b is the word at col[b] plus the state's id.
	col, fact [256]unsafe.Pointer
	// stride is the number of classes, rounded up to even so that a row's
	// offset leaves matchBit free: a state's row is as wide as it needs to
	// be (a power of two wasted up to half the table: 43 classes took 64);
	// rowBytes is a row's size, 4*stride, and recip turns an id back into
	// a state without a division (state).
	stride   uint32
	rowBytes uint32
	recip    uint64
	// matchOff[state]..matchOff[state+1] index matchData: the patterns
	// ending at that state, own first, then those of its failure chain.
	// Dense states are numbered first (sid/stride), then sparse ones
	// (numDense+k).
	numDense  uint32
	matchOff  []uint32
	matchData []int32
	lens      []int32
	// warm is the longest pattern's length less one: a walk started from
	// the start state that many bytes before an offset is in the exact
	// state from that offset on (steps2).
	warm int
}

// sparseState is a deep state: its move on a class is the exception for
// that class in excClass[off:end], else the move of dense state fallback.
type sparseState struct {
	fallback uint32
	off, end uint32
}

// Which states get a dense row: shallow ones first, breadth first, while
// the rows fit denseRowBudget (a small policy is all dense, so the hot
// loop never leaves the table), every state up to denseDepth whatever the
// budget (ordinary text lives there), and deeper ones with more than
// maxExceptions classes that move differently from their fallback (the
// fan-out of a numbering scheme: "cust0000" has ten children).
const (
	denseDepth     = 2
	maxExceptions  = 4
	denseRowBudget = 8 << 20
)

// acMatch is one pattern occurrence [start, end) in a haystack.
type acMatch struct {
	pattern, start, end int
}

func newAutomaton(patterns []string) (*automaton, error) {
	return newAutomatonBudget(patterns, denseRowBudget)
}

// newAutomatonBudget is newAutomaton with budget bytes of dense rows
// beyond denseDepth (the tests use 0 to make every state they can sparse).
func newAutomatonBudget(patterns []string, budget int) (*automaton, error) {
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
		a.warm = max(a.warm, len(p)-1)
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
	// Trie.
	type node struct {
		next    []int32
		fail    int32
		depth   int32
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
			nodes = append(nodes, node{next: make([]int32, nclass), depth: int32(j + 1)})
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
	// Dense or sparse, in breadth-first order: a failure link points to a
	// shallower state, already decided. A sparse state's fallback is the
	// first dense state on its failure chain, and its exceptions are the
	// classes where the two rows differ, so its moves are exact.
	dense := make([]bool, len(nodes))
	fallback := make([]int32, len(nodes))
	// Sparse node si's exceptions are class, target pairs in
	// exc[excOf[si]:excOf[si]+2*excN[si]].
	var exc []int32
	excOf := make([]int32, len(nodes))
	excN := make([]uint8, len(nodes))
	dense[0] = true
	rowBytes := 4 * nclass
	denseBytes := rowBytes
	var tmp []int32
	for _, si := range queue {
		nd := &nodes[si]
		f := nd.fail
		for !dense[f] {
			f = nodes[f].fail
		}
		if nd.depth > denseDepth && denseBytes+rowBytes > budget {
			tmp = tmp[:0]
			for c := range nclass {
				if nd.next[c] != nodes[f].next[c] {
					tmp = append(tmp, int32(c), nd.next[c])
					if len(tmp) > 2*maxExceptions {
						break
					}
				}
			}
			if len(tmp) <= 2*maxExceptions {
				fallback[si] = f
				excOf[si] = int32(len(exc))
				excN[si] = uint8(len(tmp) / 2)
				exc = append(exc, tmp...)
				continue
			}
		}
		dense[si] = true
		denseBytes += rowBytes
	}
	// Dense states first, those that report matches last among them, so
	// that a step lands on one exactly when its id is at least matchFrom,
	// which the sparse loop tests, and their ids have matchBit set, which
	// the dense loops gather into their flags (a register fewer than the
	// highest id, which made the compiler spill a walk's state). Sparse
	// states follow, from sparseFrom.
	order := make([]int32, 0, len(nodes))
	for _, reporting := range []bool{false, true} {
		for si := range nodes {
			if dense[si] && (len(nodes[si].matches) > 0) == reporting {
				order = append(order, int32(si))
			}
		}
	}
	numDense := len(order)
	for si := range nodes {
		if !dense[si] {
			order = append(order, int32(si))
		}
	}
	stride := nclass + nclass%2
	// Dense ids stay below 2^31 so that state's reciprocal is exact on a
	// reporting id too (state).
	if 4*uint64(numDense)*uint64(stride)+uint64(len(nodes)-numDense) > math.MaxInt32 {
		return nil, fmt.Errorf("automaton: %d dense states of %d classes and %d sparse do not fit 31-bit ids", numDense, nclass, len(nodes)-numDense)
	}
	a.stride = uint32(stride)
	a.rowBytes = 4 * a.stride
	a.recip = (1<<32 + uint64(a.rowBytes) - 1) / uint64(a.rowBytes)
	a.numDense = uint32(numDense)
	a.sparseFrom = uint32(numDense) * a.rowBytes
	newID := make([]uint32, len(nodes))
	a.matchFrom = a.sparseFrom
	for ni, si := range order {
		if ni < numDense {
			newID[si] = uint32(ni) * a.rowBytes
			if len(nodes[si].matches) > 0 {
				newID[si] |= matchBit
				if a.matchFrom == a.sparseFrom {
					a.matchFrom = newID[si]
				}
			}
		} else {
			newID[si] = a.sparseFrom + uint32(ni-numDense)
		}
	}
	a.trans = make([]uint32, numDense*stride+1)
	for b := range 256 {
		a.col[b] = unsafe.Pointer(&a.trans[a.classes[lowerTable[b]]])
		a.fact[b] = unsafe.Pointer(&factTable[int(factKinds[b])*factRowBytes/4])
	}
	a.sparse = make([]sparseState, 0, len(nodes)-numDense)
	a.matchOff = make([]uint32, len(nodes)+1)
	for ni, si := range order {
		if ni < numDense {
			for c := range nclass {
				a.trans[newID[si]/4+uint32(c)] = newID[nodes[si].next[c]]
			}
		} else {
			ss := sparseState{fallback: newID[fallback[si]], off: uint32(len(a.excClass))}
			e := exc[excOf[si] : excOf[si]+2*int32(excN[si])]
			for k := 0; k < len(e); k += 2 {
				a.excClass = append(a.excClass, uint16(4*e[k]))
				a.excNext = append(a.excNext, newID[e[k+1]])
			}
			ss.end = uint32(len(a.excClass))
			a.sparse = append(a.sparse, ss)
		}
		a.matchData = append(a.matchData, nodes[si].matches...)
		a.matchOff[ni+1] = uint32(len(a.matchData))
	}
	if err := a.checkIDs(); err != nil {
		return nil, err
	}
	return a, nil
}

// checkIDs verifies what scan's unchecked loads rely on: every id in the
// tables is a dense row's offset or a sparse state's id, every byte's
// column lies inside the first row, and its facts row is its kind's.
func (a *automaton) checkIDs() error {
	valid := func(id uint32) bool {
		if id < a.sparseFrom {
			if id < a.matchFrom {
				return id%a.rowBytes == 0
			}
			return id%a.rowBytes == matchBit
		}
		return id-a.sparseFrom < uint32(len(a.sparse))
	}
	for _, id := range a.trans {
		if !valid(id) {
			return fmt.Errorf("automaton: bad state id %d in the table", id)
		}
	}
	for _, id := range a.excNext {
		if !valid(id) {
			return fmt.Errorf("automaton: bad state id %d in an exception", id)
		}
	}
	for _, ss := range a.sparse {
		if ss.fallback >= a.sparseFrom || !valid(ss.fallback) {
			return fmt.Errorf("automaton: bad fallback %d", ss.fallback)
		}
	}
	for b := range 256 {
		if c := a.column(byte(b)); c >= a.rowBytes || unsafe.Add(unsafe.Pointer(unsafe.SliceData(a.trans)), c) != a.col[b] {
			return fmt.Errorf("automaton: bad column for byte %d", b)
		}
		if a.fact[b] != unsafe.Pointer(&factTable[int(factKinds[b])*factRowBytes/4]) {
			return fmt.Errorf("automaton: bad facts row for byte %d", b)
		}
	}
	return nil
}

// next is the move of state sid on class c (the hot loop, steps, inlines
// the same logic).
func (a *automaton) next(sid, c uint32) uint32 {
	if sid < a.sparseFrom {
		return a.trans[sid/4+c]
	}
	ss := &a.sparse[sid-a.sparseFrom]
	for j := ss.off; j < ss.end; j++ {
		if uint32(a.excClass[j]) == 4*c {
			return a.excNext[j]
		}
	}
	return a.trans[ss.fallback/4+c]
}

// column is the offset of byte b's column in a row, its class's, which
// the sparse states' exceptions name.
func (a *automaton) column(b byte) uint32 {
	return uint32(uintptr(a.col[b]) - uintptr(unsafe.Pointer(unsafe.SliceData(a.trans))))
}

// index is the matchOff index of state sid.
func (a *automaton) index(sid uint32) uint32 {
	if sid < a.sparseFrom {
		return a.state(sid)
	}
	return a.numDense + sid - a.sparseFrom
}

// size is the automaton's memory in bytes (its slices' lengths).
func (a *automaton) size() int {
	return 4*len(a.trans) + 12*len(a.sparse) + 2*len(a.excClass) + 4*len(a.excNext) +
		4*len(a.matchOff) + 4*len(a.matchData) + 4*len(a.lens)
}

// state is the state of dense id sid: sid / rowBytes, by the reciprocal.
// It is exact because sid is a multiple of rowBytes, or one plus
// matchBit, below 2^31: with sid = state*rowBytes + r, r in {0, 4} and
// recip*rowBytes = 2^32 + e, e < rowBytes, sid*recip/2^32 =
// state + r/rowBytes + (state*e + r*e/rowBytes)/2^32, where r/rowBytes is
// at most one half (rowBytes is at least 8) and the rest below one half
// (state*e + r*e/rowBytes < sid < 2^31).
func (a *automaton) state(sid uint32) uint32 { return uint32(uint64(sid) * a.recip >> 32) }
