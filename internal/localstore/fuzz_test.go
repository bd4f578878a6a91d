package localstore

import "testing"

// FuzzParseKey: a key is accepted only as exactly 32 bytes.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"", "00", "0011223344556677889900112233445566778899001122334455667788990011", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", " x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err == nil && len(k) != KeySize {
			t.Fatalf("%q gave a %d-byte key", s, len(k))
		}
	})
}
