package redact

import (
	"math/bits"
	"slices"
	"strings"
	"unsafe"
)

// One pass per string: the Aho-Corasick automaton (identifiers and class
// keywords) and the facts the digit and colon prefilters need, measured by
// a small DFA over byte kinds. The facts were a switch on every byte
// (prepareRef in the tests, still the reference), which mispredicts on
// ordinary text where letters, digits and separators alternate; a table
// step has no branch, and its dependency chain runs beside the
// automaton's instead of after it. On a 117-byte log line the two passes
// took 365-405 ns, the one pass 250-255 ns (BenchmarkScan).

// Fact kinds of a byte: what the facts DFA steps on.
const (
	fkOther = iota
	fkDigit
	fkLetter
	fkDot
	fkSep // a separator a digit run may span, other than '.'
	fkColon
	fkEscape
	numFactKinds
)

// Flags a facts DFA step raises. digitBit<<(k-1) says a digit run reached
// length k (capped at maxDigitRun), so the longest run is the highest bit.
const (
	digitBit    uint32 = 1 << 16
	maxDigitRun        = 12
	ipv4Bit     uint32 = 1 << 28
	ibanBit     uint32 = 1 << 29
	escBit      uint32 = 1 << 30
	colonBit    uint32 = 1 << 31
)

// factState is one state of the facts DFA: prepareRef's variables, capped
// where no prefilter looks further.
type factState struct {
	cur, seps int // digit run (<= maxDigitRun) and separators since its last digit
	dots, dd  int // dots (<= 3) and digits (<= 4) in the current run of digits and dots
	iban      int // progress of a word through letter, letter, digit, digit
}

// Progress of a word towards an IBAN's start (two letters, two digits).
const (
	ibanStart = iota // no word yet
	ibanL
	ibanLL
	ibanLLD
	ibanDead // the word cannot start an IBAN
)

// step is prepareRef's per-byte logic on a fact kind.
func (st factState) step(kind int) (factState, uint32) {
	var flags uint32
	switch kind {
	case fkDigit:
		st.cur = min(st.cur+1, maxDigitRun)
		st.seps = 0
		flags |= digitBit << (st.cur - 1)
		if st.dd = min(st.dd+1, 4); st.dots >= 3 && st.dd >= 4 {
			flags |= ipv4Bit
		}
		switch st.iban {
		case ibanLL:
			st.iban = ibanLLD
		case ibanLLD:
			flags |= ibanBit
			st.iban = ibanDead
		default:
			st.iban = ibanDead
		}
		return st, flags
	case fkLetter:
		st.cur, st.seps = 0, 0
		st.dots, st.dd = 0, 0
		switch st.iban {
		case ibanStart:
			st.iban = ibanL
		case ibanL:
			st.iban = ibanLL
		default:
			st.iban = ibanDead
		}
		return st, flags
	case fkDot, fkSep:
		if st.seps++; st.seps > 2 {
			st.cur, st.seps = 0, 0
		}
		st.iban = ibanStart
		if kind == fkDot {
			st.dots = min(st.dots+1, 3)
			return st.norm(), flags
		}
	case fkEscape:
		flags |= escBit
		st.cur, st.seps, st.iban = 0, 0, ibanStart
	case fkColon:
		flags |= colonBit
		st.cur, st.seps, st.iban = 0, 0, ibanStart
	default:
		st.cur, st.seps, st.iban = 0, 0, ibanStart
	}
	st.dots, st.dd = 0, 0
	return st.norm(), flags
}

// norm merges states no later step can tell apart: separators count only
// after a digit.
func (st factState) norm() factState {
	if st.cur == 0 {
		st.seps = 0
	}
	return st
}

// factTable is the facts DFA, a row per byte kind, each entry a pair of
// words: from the state at byte offset o of its row, a byte of kind k
// leads to state factTable[(k*factRowBytes+o)/4] and raises the flags in
// the word after it. Like the automaton's, the ids are byte offsets so that
// a step is one load (steps), and next state and flags share a base so the
// loop keeps one pointer for both; 411 states of 8 kinds.
var factTable, factRowBytes = func() (table []uint32, rowBytes uint32) {
	type edge struct {
		to    int
		flags uint32
	}
	index := map[factState]int{{}: 0}
	states := []factState{{}}
	var rows [][numFactKinds]edge
	for i := 0; i < len(states); i++ {
		var row [numFactKinds]edge
		for k := range numFactKinds {
			to, f := states[i].step(k)
			j, ok := index[to]
			if !ok {
				j = len(states)
				index[to] = j
				states = append(states, to)
			}
			row[k] = edge{j, f}
		}
		rows = append(rows, row)
	}
	n := len(states)
	// The automaton's info packs a kind's row offset in 16 bits.
	if numFactKinds*8*n > 1<<16 {
		panic("redact: facts DFA too large")
	}
	table = make([]uint32, 2*numFactKinds*n)
	for i, row := range rows {
		for k, e := range row {
			table[2*(k*n+i)], table[2*(k*n+i)+1] = uint32(8*e.to), e.flags
		}
	}
	return table, uint32(8 * n)
}()

// factKinds is the fact kind of every byte.
var factKinds = func() (k [256]uint8) {
	for i := range 256 {
		switch c := byte(i); {
		case '0' <= c && c <= '9':
			k[i] = fkDigit
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			k[i] = fkLetter
		case c == '.':
			k[i] = fkDot
		case strings.IndexByte(" -()+/", c) >= 0:
			k[i] = fkSep
		case c == ':':
			k[i] = fkColon
		case c == '%' || c == '\\':
			k[i] = fkEscape
		}
	}
	return k
}()

// digitRun is the longest digit run the flags of a scan say (up to
// maxDigitRun).
func digitRun(flags uint32) int { return bits.Len32(flags >> 16 & (1<<maxDigitRun - 1)) }

// factsOf turns the flags a scan of s raised into facts.
func factsOf(flags uint32, s string) facts {
	f := facts{
		digits: digitRun(flags),
		esc:    flags&escBit != 0,
		ipv4:   flags&ipv4Bit != 0,
		iban:   flags&ibanBit != 0,
	}
	if flags&colonBit != 0 {
		f.colons = strings.Count(s, ":")
	}
	return f
}

// scan appends the automaton's matches on s, ASCII case-insensitively, to
// dst and measures s's facts, in one pass and with no lowered copy (the
// automaton's byte classes fold case). The loop makes no call,
// which would spill its state to the stack on every byte: it notes the
// state after every byte in states, and the matches are read out after it.
func (a *automaton) scan(dst []acMatch, s string, states []uint32) ([]acMatch, facts, []uint32) {
	b := scanBuf{matches: dst, states: states}
	flags := a.scanInto(&b, s)
	return b.matches, factsOf(flags, s), b.states
}

// scanBuf is scan's memory: the matches found and the states after each
// byte, reused from string to string.
type scanBuf struct {
	matches []acMatch
	states  []uint32
}

// scanInto is scan appending to b.matches and returning the facts DFA's
// flags, not facts: the redactor's hot path reads the few facts it needs
// from them (gated) and passes nothing larger than a word around.
func (a *automaton) scanInto(b *scanBuf, s string) (flags uint32) {
	if cap(b.states) < len(s) {
		b.states = slices.Grow(b.states[:0], len(s))
	}
	states := b.states[:len(s)]
	flags, top := a.steps(s, states)
	if top < a.matchFrom {
		return flags
	}
	dst := b.matches
	for i, sid := range states {
		if sid < a.matchFrom {
			continue
		}
		st := a.index(sid)
		for _, pi := range a.matchData[a.matchOff[st]:a.matchOff[st+1]] {
			dst = append(dst, acMatch{int(pi), i + 1 - int(a.lens[pi]), i + 1})
		}
	}
	b.matches = dst
	return flags
}

// steps is scan's loop: it writes the automaton's state after each byte
// of s to states and returns the facts DFA's flags and the highest state
// (below matchFrom: no match). It is a leaf that stores unconditionally,
// so its state stays in registers.
//
// Each step of either DFA is one load at a row's address plus a column's
// offset, both byte offsets (the ids are; automaton.go), so the chain of
// dependent loads each DFA waits on holds nothing else: no bounds check, no
// multiply, no add on the id. The loads are unchecked; newAutomaton and
// the facts tables' construction check every id they can load. On a log
// line this took a byte from about 6.4 to 4.6 cycles (BenchmarkScan).
func (a *automaton) steps(s string, states []uint32) (flags, top uint32) {
	if len(a.sparse) == 0 {
		return a.denseSteps(s, states)
	}
	info := &a.info
	trans := unsafe.Pointer(unsafe.SliceData(a.trans))
	facts := unsafe.Pointer(unsafe.SliceData(factTable))
	sparseFrom := a.sparseFrom
	var sid, fst uint32
	s = s[:len(states)]
	for i := range states {
		e := info[s[i]]
		row := unsafe.Add(facts, e>>16)
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(row, 4), fst))
		fst = *(*uint32)(unsafe.Add(row, fst))
		c := e & 0xffff
		if sid < sparseFrom {
			sid = *(*uint32)(unsafe.Add(unsafe.Add(trans, c), sid))
		} else {
			// Inside an identifier: a.next, inlined by hand so the
			// loop makes no call.
			ss := &a.sparse[sid-sparseFrom]
			next := a.trans[(ss.fallback+c)/4]
			for j := ss.off; j < ss.end; j++ {
				if uint32(a.excClass[j]) == c {
					next = a.excNext[j]
					break
				}
			}
			sid = next
		}
		states[i] = sid
		top = max(top, sid)
	}
	return flags, top
}

// denseSteps is steps for an automaton without sparse states (every policy
// whose rows fit denseRowBudget): the table step alone, no branch.
func (a *automaton) denseSteps(s string, states []uint32) (flags, top uint32) {
	info := &a.info
	trans := unsafe.Pointer(unsafe.SliceData(a.trans))
	facts := unsafe.Pointer(unsafe.SliceData(factTable))
	var sid, fst uint32
	s = s[:len(states)]
	for i := range states {
		e := info[s[i]]
		row := unsafe.Add(facts, e>>16)
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(row, 4), fst))
		fst = *(*uint32)(unsafe.Add(row, fst))
		sid = *(*uint32)(unsafe.Add(unsafe.Add(trans, e&0xffff), sid))
		states[i] = sid
		top = max(top, sid)
	}
	return flags, top
}
