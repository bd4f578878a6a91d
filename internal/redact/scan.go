package redact

import (
	"math/bits"
	"slices"
	"strings"
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

// factStride is the number of table entries per DFA state.
const factStride = 8

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

// factNext and factFlags are the facts DFA: from the state at offset o,
// a byte of kind k leads to factNext[o+k] and raises factFlags[o+k]. A
// uint16 index needs no bounds check; the DFA has 411 states of 8 entries.
var factNext, factFlags = func() (next [1 << 16]uint16, flags [1 << 16]uint32) {
	index := map[factState]int{{}: 0}
	states := []factState{{}}
	for i := 0; i < len(states); i++ {
		for k := range numFactKinds {
			to, f := states[i].step(k)
			j, ok := index[to]
			if !ok {
				j = len(states)
				index[to] = j
				states = append(states, to)
			}
			if j*factStride >= len(next) {
				panic("redact: facts DFA too large")
			}
			next[i*factStride+k] = uint16(j * factStride)
			flags[i*factStride+k] = f
		}
	}
	return next, flags
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

// factsOf turns the flags a scan of s raised into facts.
func factsOf(flags uint32, s string) facts {
	f := facts{
		digits: bits.Len32(flags >> 16 & (1<<maxDigitRun - 1)),
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
	states = slices.Grow(states[:0], len(s))[:len(s)]
	flags, top := a.steps(s, states)
	for i := 0; top >= a.matchFrom && i < len(states); i++ {
		sid := states[i]
		if sid < a.matchFrom {
			continue
		}
		st := a.index(sid)
		for _, pi := range a.matchData[a.matchOff[st]:a.matchOff[st+1]] {
			dst = append(dst, acMatch{int(pi), i + 1 - int(a.lens[pi]), i + 1})
		}
	}
	return dst, factsOf(flags, s), states[:0]
}

// steps is scan's loop: it writes the automaton's state after each byte
// of s to states and returns the facts DFA's flags and the highest state
// (below matchFrom: no match). It is a leaf that stores unconditionally,
// so its state stays in registers.
func (a *automaton) steps(s string, states []uint32) (flags, top uint32) {
	if len(a.sparse) == 0 {
		return a.denseSteps(s, states)
	}
	trans, info := a.trans, &a.info
	sparseFrom := a.sparseFrom
	ft, ff := &factNext, &factFlags
	var sid uint32
	var fst uint16
	s = s[:len(states)]
	for i := range states {
		e := info[s[i]]
		fi := fst + uint16(e>>16)
		fst = ft[fi]
		flags |= ff[fi]
		c := e & 0xffff
		if sid < sparseFrom {
			sid = trans[sid+c]
		} else {
			// Inside an identifier: a.next, inlined by hand so the
			// loop makes no call.
			ss := &a.sparse[sid-sparseFrom]
			next := trans[ss.fallback+c]
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
	trans, info := a.trans, &a.info
	ft, ff := &factNext, &factFlags
	var sid uint32
	var fst uint16
	s = s[:len(states)]
	for i := range states {
		e := info[s[i]]
		fi := fst + uint16(e>>16)
		fst = ft[fi]
		flags |= ff[fi]
		sid = trans[sid+e&0xffff]
		states[i] = sid
		top = max(top, sid)
	}
	return flags, top
}
