package redact

import (
	"strings"
	"unicode/utf8"
)

// maxDecodeLayers bounds how many nested encodings (JSON inside a URL inside
// JSON...) are peeled off one string.
const maxDecodeLayers = 3

// hasEscapes reports whether s holds a percent escape (%XX) or a JSON
// escape, so strings with a bare '%' ("25%") or '\' are not decoded.
// It jumps from '%' to '%' and '\\' to '\\' (IndexByte) instead of
// switching on every byte: a log line with a bare "25%" paid for the switch
// over all of it.
func hasEscapes(s string) bool {
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], '%')
		if j < 0 {
			break
		}
		if i += j; i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], '\\')
		if j < 0 {
			break
		}
		if i += j; i+1 < len(s) && strings.IndexByte(`"\\/'ntrbfu`, s[i+1]) >= 0 {
			return true
		}
	}
	return false
}

// Unescape decodes percent escapes (%XX) and JSON string escapes (\uXXXX,
// \/, \", \\, \n...) in one pass. pos maps every byte of the result to the
// offset in s where the escape that produced it starts, and has one extra
// entry, len(s), so a range [a, b) of the result covers s[pos[a]:pos[b]].
// Malformed escapes are copied through unchanged. "+" is not decoded.
func Unescape(s string) (dec string, pos []int) {
	var b strings.Builder
	b.Grow(len(s))
	pos = make([]int, 0, len(s)+1)
	emit := func(from int, p []byte) {
		for range p {
			pos = append(pos, from)
		}
		b.Write(p)
	}
	var tmp [utf8.UTFMax]byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			emit(i, []byte{unhex(s[i+1])<<4 | unhex(s[i+2])})
			i += 3
			continue
		case c == '\\' && i+1 < len(s):
			switch e := s[i+1]; e {
			case '"', '\\', '/', '\'':
				emit(i, []byte{e})
				i += 2
				continue
			case 'n', 't', 'r', 'b', 'f':
				emit(i, []byte{controlEscape(e)})
				i += 2
				continue
			case 'u':
				if i+6 <= len(s) && isHex(s[i+2]) && isHex(s[i+3]) && isHex(s[i+4]) && isHex(s[i+5]) {
					r := rune(unhex(s[i+2]))<<12 | rune(unhex(s[i+3]))<<8 | rune(unhex(s[i+4]))<<4 | rune(unhex(s[i+5]))
					n := utf8.EncodeRune(tmp[:], r)
					emit(i, tmp[:n])
					i += 6
					continue
				}
			}
		}
		pos = append(pos, i)
		b.WriteByte(c)
		i++
	}
	pos = append(pos, len(s))
	return b.String(), pos
}

// unescapeLayers applies Unescape until nothing changes, at most
// maxDecodeLayers times, composing the position maps onto s.
func unescapeLayers(s string) (dec string, pos []int, ok bool) {
	dec = s
	for range maxDecodeLayers {
		if !hasEscapes(dec) {
			break
		}
		next, p := Unescape(dec)
		if next == dec {
			break
		}
		if pos != nil {
			for i, v := range p {
				p[i] = pos[v]
			}
		}
		dec, pos, ok = next, p, true
	}
	return dec, pos, ok
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func controlEscape(e byte) byte {
	switch e {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case 'b':
		return '\b'
	default:
		return '\f'
	}
}
