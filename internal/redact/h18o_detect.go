package redact

// withinTabs[di] is detectors[di].within as a table (nil for a detector
// without an anchor): detect widens the run around each anchor a byte at
// a time, and a call through the function value per byte (isEmailByte's
// IndexByte among them) cost more than the e-mail matcher it feeds.
var withinTabs = func() []*[256]bool {
	t := make([]*[256]bool, len(detectors))
	for di, d := range detectors {
		if d.anchor == 0 {
			continue
		}
		var tab [256]bool
		for c := range tab {
			tab[c] = d.within(byte(c))
		}
		t[di] = &tab
	}
	return t
}()

// allDetectors is the set of every detector: detect walks a set's bits,
// and a bit past the last detector names none.
var allDetectors = detectorSet(uint64(1)<<len(detectors) - 1)

// emailBytes is isEmailByte as a table, for the local part findEmails
// walks back from each '@'.
var emailBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = isEmailByte(byte(c))
	}
	return t
}()

// emailLocal is isEmailLocal as a table: emailBytes without '@'.
var emailLocal = func() (t [256]bool) {
	t = emailBytes
	t['@'] = false
	return t
}()
