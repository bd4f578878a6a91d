package anomaly

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

const stateVersion = 2

// StateSize is the number of bytes MarshalBinary produces: the whole state of
// one series.
var StateSize = 1 + binary.Size(state{})

// MarshalBinary encodes the detector's state (not its Config) so it can be
// persisted and restored with UnmarshalBinary; a restored detector continues
// with exactly the scores the original would have produced.
func (d *Detector) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(StateSize)
	b.WriteByte(stateVersion)
	if err := binary.Write(&b, binary.LittleEndian, &d.s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalBinary restores state written by MarshalBinary.
func (d *Detector) UnmarshalBinary(p []byte) error {
	if len(p) != StateSize {
		return fmt.Errorf("anomaly state: %d bytes, want %d", len(p), StateSize)
	}
	if p[0] != stateVersion {
		return fmt.Errorf("anomaly state: version %d, want %d", p[0], stateVersion)
	}
	var s state
	if err := binary.Read(bytes.NewReader(p[1:]), binary.LittleEndian, &s); err != nil {
		return fmt.Errorf("anomaly state: %w", err)
	}
	d.s = s
	d.last = explanation{}
	return nil
}
