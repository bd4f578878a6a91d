package redact

import (
	"fmt"
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
// matchBit is no fact: it is set in the ids of the dense states that report
// matches (automaton.go), and the dense loops gather it among their flags.
const (
	matchBit    uint32 = 1 << 2
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
// loop keeps one pointer for both.
var factTable = buildFactTable()

// factStates is the number of the facts DFA's states (buildFactTable checks it);
// factRowBytes is the size of a kind's row.
const (
	factStates   = 411
	factRowBytes = 8 * factStates
)

// buildFactTable builds factTable from factState.step.
func buildFactTable() (table [2 * numFactKinds * factStates]uint32) {
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
	if n != factStates {
		panic(fmt.Sprintf("redact: the facts DFA has %d states, factStates says %d", n, factStates))
	}
	for i, row := range rows {
		for k, e := range row {
			table[2*(k*n+i)], table[2*(k*n+i)+1] = uint32(8*e.to), e.flags
		}
	}
	return table
}

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
	b.matches = a.appendAll(b.matches, states)
	return flags
}

// appendAll appends the matches the states after each byte of a string
// report (the read-out of scanInto). In a dense automaton exactly the
// reporting ids have matchBit set, so eight states at a time are tested by
// one OR of them, with no dependency between the loads: the four-state
// maximum it replaces was a chain of compares that took about a third of
// the scan of a dirty body. An automaton with sparse states tests their
// highest, four at a time.
func (a *automaton) appendAll(dst []acMatch, states []uint32) []acMatch {
	i := 0
	if len(a.sparse) == 0 {
		for ; i+8 <= len(states); i += 8 {
			q := states[i : i+8 : i+8]
			if (q[0]|q[1]|q[2]|q[3]|q[4]|q[5]|q[6]|q[7])&matchBit == 0 {
				continue
			}
			for k, sid := range q {
				if sid&matchBit != 0 {
					dst = a.appendReported(dst, sid, i+k+1)
				}
			}
		}
		for ; i < len(states); i++ {
			if sid := states[i]; sid&matchBit != 0 {
				dst = a.appendReported(dst, sid, i+1)
			}
		}
		return dst
	}
	mf := a.matchFrom
	for ; i+4 <= len(states); i += 4 {
		q := states[i : i+4 : i+4]
		if max(q[0], q[1], q[2], q[3]) < mf {
			continue
		}
		for k, sid := range q {
			if sid >= mf {
				dst = a.appendReported(dst, sid, i+k+1)
			}
		}
	}
	for ; i < len(states); i++ {
		if sid := states[i]; sid >= mf {
			dst = a.appendReported(dst, sid, i+1)
		}
	}
	return dst
}

// appendReported appends the matches state sid reports where it was
// reached, just before offset end.
func (a *automaton) appendReported(dst []acMatch, sid uint32, end int) []acMatch {
	st := a.index(sid)
	for _, pi := range a.matchData[a.matchOff[st]:a.matchOff[st+1]] {
		dst = append(dst, acMatch{int(pi), end - int(a.lens[pi]), end})
	}
	return dst
}

// steps is scan's loop: it writes the automaton's state after each byte
// of s to states and returns the facts DFA's flags and the highest state,
// or for a dense automaton matchFrom when a state reported and else 0
// (below matchFrom: no match). It is a leaf that stores unconditionally,
// so its state stays in registers.
//
// Each step of either DFA is one load at an address the byte gives (its
// column, its facts row: col, fact) plus the state's id, a byte offset
// (automaton.go), so the chain of dependent loads each DFA waits on holds
// nothing else: no bounds check, no multiply, no add. The loads are
// unchecked; newAutomaton and the facts tables' construction check every
// id they can load. On a log line this took a byte from about 6.4 to 4.6
// cycles (BenchmarkScan).
func (a *automaton) steps(s string, states []uint32) (flags, top uint32) {
	if len(a.sparse) == 0 {
		return a.denseSteps(s, states)
	}
	col, fact := &a.col, &a.fact
	sparseFrom := a.sparseFrom
	var sid, fst uint32
	s = s[:len(states)]
	for i := range states {
		b := s[i]
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fst))
		fst = *(*uint32)(unsafe.Add(fact[b], fst))
		if sid < sparseFrom {
			sid = *(*uint32)(unsafe.Add(col[b], sid))
		} else {
			// Inside an identifier: a.next, inlined by hand so the
			// loop makes no call.
			c := a.column(s[i])
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

// pairMin is the shortest string denseSteps walks as two halves at once
// (walk2), with a warm-up of pairWarm bytes (or the longest pattern less
// one, when that is shorter). A short warm-up is usually enough: in
// ordinary text the automaton sits within a few bytes of its start state
// and any letter after a separator brings the facts DFA to its start, and
// when it is not, walk2 sees it and walks the second half again. Not
// from fewer than 40 bytes: in short strings of digits (an order or
// account reference) the facts DFA's digit run disagrees at the seam and
// the re-walk cost more than the second walk saved.
const (
	pairMin  = 40
	pairWarm = 6
)

// denseSteps is steps for an automaton without sparse states (every policy
// whose rows fit denseRowBudget): the table step alone, no branch.
func (a *automaton) denseSteps(s string, states []uint32) (flags, top uint32) {
	if len(states) >= pairMin {
		return a.walk2(s, states, min(a.warm, pairWarm))
	}
	return a.steps1(s, states)
}

// steps1 is denseSteps in one walk.
func (a *automaton) steps1(s string, states []uint32) (flags, top uint32) {
	col, fact := &a.col, &a.fact
	var sid, fst uint32
	s = s[:len(states)]
	for i := range states {
		b := s[i]
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fst))
		fst = *(*uint32)(unsafe.Add(fact[b], fst))
		sid = *(*uint32)(unsafe.Add(col[b], sid))
		states[i] = sid
		flags |= sid & matchBit
	}
	return a.denseTop(flags)
}

// denseTop splits the flags a dense loop gathered into the facts' flags
// and what steps returns for the highest state: matchFrom when a state
// reported matches (matchBit), else 0.
func (a *automaton) denseTop(flags uint32) (uint32, uint32) {
	if flags&matchBit != 0 {
		return flags &^ matchBit, a.matchFrom
	}
	return flags, 0
}

// steps2 is walk2 with a warm-up of the longest pattern less one byte,
// after which the second walk's automaton states are exact (the state
// after a byte is the longest suffix of the text read that is a prefix of
// a pattern, at most a.warm+1 bytes long). It refuses a string shorter
// than that warm-up.
func (a *automaton) steps2(s string, states []uint32) (flags, top uint32) {
	return a.walk2(s, states, a.warm)
}

// walk2 is denseSteps walking the two halves of s at once. One walk's
// steps form a chain of dependent loads, each waiting for the last, so a
// byte costs a load's latency however little else the step does; two
// walks interleaved overlap their chains.
//
// The first walk takes s[:m]. The second starts warm bytes before m, from
// the start states of both DFAs, and keeps what it finds from m on. When
// its states at m, before it keeps anything, equal the first walk's, which
// ends there and is exact, the DFAs being deterministic its states and
// flags from m on are exact too. Otherwise s[m:] is walked again from the
// first walk's states (resume): in ordinary text a few bytes bring both
// DFAs to the states the whole text leaves them in, so that is rare.
func (a *automaton) walk2(s string, states []uint32, warm int) (flags, top uint32) {
	n, w := len(states), warm
	m := (n + w + 1) / 2 // the first walk's length, at least the second's
	// Both walks stay inside s[:n] and states only when m <= n (n >= w):
	// at n = w-1, m-w is 0 and the first walk took one byte past both.
	if w < 0 || m-w < 0 || m > n || n > len(s) {
		panic("redact: walk2 on a short string")
	}
	col, fact := &a.col, &a.fact
	// The walks' bytes and states share one base: the first walk is at
	// offset i, the second at j.
	sp := unsafe.Pointer(unsafe.StringData(s))
	out := unsafe.Pointer(unsafe.SliceData(states))
	var ida, fsa, idb, fsb uint32
	i, j := 0, m-w
	// The second walk warms up: no states kept, no flags.
	for ; j < m; i, j = i+1, j+1 {
		b := *(*byte)(unsafe.Add(sp, i))
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fsa))
		fsa = *(*uint32)(unsafe.Add(fact[b], fsa))
		ida = *(*uint32)(unsafe.Add(col[b], ida))
		*(*uint32)(unsafe.Add(out, 4*i)) = ida
		flags |= ida & matchBit
		b = *(*byte)(unsafe.Add(sp, j))
		fsb = *(*uint32)(unsafe.Add(fact[b], fsb))
		idb = *(*uint32)(unsafe.Add(col[b], idb))
	}
	idM, fsM := idb, fsb
	for ; j < n; i, j = i+1, j+1 {
		b := *(*byte)(unsafe.Add(sp, i))
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fsa))
		fsa = *(*uint32)(unsafe.Add(fact[b], fsa))
		ida = *(*uint32)(unsafe.Add(col[b], ida))
		*(*uint32)(unsafe.Add(out, 4*i)) = ida
		b = *(*byte)(unsafe.Add(sp, j))
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fsb))
		fsb = *(*uint32)(unsafe.Add(fact[b], fsb))
		idb = *(*uint32)(unsafe.Add(col[b], idb))
		*(*uint32)(unsafe.Add(out, 4*j)) = idb
		flags |= (ida | idb) & matchBit
	}
	// The first walk's last byte when n+w is odd.
	for ; i < m; i++ {
		b := *(*byte)(unsafe.Add(sp, i))
		flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fsa))
		fsa = *(*uint32)(unsafe.Add(fact[b], fsa))
		ida = *(*uint32)(unsafe.Add(col[b], ida))
		*(*uint32)(unsafe.Add(out, 4*i)) = ida
		flags |= ida & matchBit
	}
	if ida == idM && fsa == fsM {
		return a.denseTop(flags)
	}
	return a.resume(s[:n], states, m, ida, ida == idM, fsa == fsM, flags, flags&matchBit)
}

// resume completes a walk2 whose second walk did not meet the first at m.
// When the facts DFA's states differed (sameFact false), the flags mixed
// in the second walk's, so they are measured again, facts DFA alone, over
// s; when they agreed, the second walk's facts from m on are exact and only
// the match bit may be wrong. When the automaton's states differed too
// (sameID false), s[m:] is walked again from the first walk's state id,
// up to the first byte after which it is in the second walk's state.
// match is the matchBit the walks gathered. It returns what walk2 returns.
// Its loops step the same tables as steps1: a string a pattern crosses at
// the seam (a small policy's identifier in a log body) takes this path on
// every record.
func (a *automaton) resume(s string, states []uint32, m int, id uint32, sameID, sameFact bool, flags, match uint32) (uint32, uint32) {
	col, fact := &a.col, &a.fact
	if !sameFact {
		flags = 0
		var fst uint32
		for i := 0; i < len(s); i++ {
			b := s[i]
			flags |= *(*uint32)(unsafe.Add(unsafe.Add(fact[b], 4), fst))
			fst = *(*uint32)(unsafe.Add(fact[b], fst))
		}
	}
	flags &^= matchBit
	if !sameID {
		// Only until the walk meets the second walk's state: the automaton
		// being deterministic, the second walk's states are exact from
		// there on. A pattern across the seam ends a few bytes past it, and
		// the first byte in no pattern brings both walks to the start: the
		// dirty body of bench-e2e re-walked 37 bytes, now 7.
		//
		// The match bit is the OR of every state's, now some are new. A
		// re-walked state that reports settles it without reading the
		// others again: a pattern across the seam is what sent the walk
		// here, and it ends among them. Reading all the states for it
		// cost more than the re-walk (BenchmarkH18oSteps: the dirty body
		// 137 ns against the clean one's 90).
		var walked uint32
		for i := m; i < len(s); i++ {
			id = *(*uint32)(unsafe.Add(col[s[i]], id))
			walked |= id
			if states[i] == id {
				break
			}
			states[i] = id
		}
		match = walked & matchBit
		if match == 0 {
			for _, id := range states {
				match |= id & matchBit
			}
		}
	}
	return a.denseTop(flags | match)
}
