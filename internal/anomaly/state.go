package anomaly

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// stateVersion 8 is the resonance model with the range kept as its three
// highest and lowest values, the series' mean alarm confidence, the window
// model's quiet span after a strong alarm, a 64-entry match ring and the
// surprise rule's bins (7 had no quiet span, 6 no surprise rule and a
// 128-entry ring, 5 no mean confidence, 4 kept only the highest and lowest
// values, 3 was its first layout, 2 the earlier median detector); an older
// state is refused, and its series relearns. (A version-4 state cannot be
// taken over: it kept no second extremes, and one that saw an extreme
// holds the range it widened, or an infinity.)
const stateVersion = 8

// StateSize is the number of bytes MarshalBinary produces: the whole state of
// one series.
var StateSize = 1 + binary.Size(state{})

// rawState reports whether the first StateSize-1 bytes of a state in memory
// are its little-endian encoding (a little-endian host, and no padding
// between fields, which state's explicit blank fields ensure). Then a
// checkpoint copies bytes instead of encoding field by field through
// reflection, about 3.5 µs per series, which at 10,000 tenants made each
// checkpoint take most of a second. It is checked on a probe, not assumed.
var rawState = func() bool {
	n := StateSize - 1
	pattern := make([]byte, n)
	for i := range pattern {
		pattern[i] = byte(i%251 + 1)
	}
	var probe state
	if err := binary.Read(bytes.NewReader(pattern), binary.LittleEndian, &probe); err != nil {
		return false
	}
	enc, err := binary.Append(nil, binary.LittleEndian, &probe)
	return err == nil && unsafe.Sizeof(probe) >= uintptr(n) && bytes.Equal(enc, stateBytes(&probe))
}()

// stateBytes is the encoded prefix of s's memory; only for rawState hosts.
func stateBytes(s *state) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(s)), StateSize-1)
}

// MarshalBinary encodes the detector's state (not its Config) so it can be
// persisted and restored with UnmarshalBinary; a restored detector continues
// with exactly the scores the original would have produced.
func (d *Detector) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, StateSize))
}

// AppendBinary appends what MarshalBinary returns to b, so a caller saving
// many detectors fills one buffer.
func (d *Detector) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, stateVersion)
	if rawState {
		return append(b, stateBytes(&d.s)...), nil
	}
	return binary.Append(b, binary.LittleEndian, &d.s)
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
	if rawState {
		copy(stateBytes(&s), p[1:])
	} else if err := binary.Read(bytes.NewReader(p[1:]), binary.LittleEndian, &s); err != nil {
		return fmt.Errorf("anomaly state: %w", err)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("anomaly state: %w", err)
	}
	// The quiet count is at most this detector's span (none with the span
	// off): a state from a member configured otherwise, or from whoever
	// can write the baselines topic, may hold up to 255.
	s.Quiet = min(s.Quiet, d.set.quiet)
	d.s = s
	d.last = explanation{}
	return nil
}

// check refuses a state no detector could have written: a bit flip, a
// build with another layout under the same version, or a writer other
// than the collector (a baselines topic is writable by whoever the broker
// lets). An index out of its array would panic at the next update, on
// every member that takes the series over; counts that disagree with the
// histogram would move the median wrongly for ever. A NaN or infinity,
// which no update stores (values are clamped to ±1e37), is refused too;
// other values are not checked, and updates keep scores in [0,1] whatever
// they hold (TestDamagedState).
func (s *state) check() error {
	fs := []float64{s.BlockSum, float64(s.BlockMin), float64(s.BlockMax), float64(s.BlockMA),
		float64(s.DMin), float64(s.DScale), float64(s.RhoLb), float64(s.RhoUb), float64(s.UbMean),
		float64(s.HistSum), float64(s.HistLast), float64(s.LastSim), float64(s.LastMatch), float64(s.AlarmConf)}
	for i := range artExtremes {
		fs = append(fs, float64(s.Top[i]), float64(s.Bot[i]))
	}
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("a value is %v", f)
		}
	}
	// Updates clamp values to ±artClamp, so three spans of the range fit
	// a float32; extremes beyond it (the largest float32s) would make the
	// probation's level 0 or span infinite, a state the detector would
	// then refuse itself at every restart.
	for _, v := range [...]float32{s.Top[0], s.Top[1], s.Top[2], s.Bot[0], s.Bot[1], s.Bot[2], s.BlockMin, s.BlockMax} {
		if v > artClamp || v < -artClamp {
			return fmt.Errorf("a value %v beyond ±%g", v, artClamp)
		}
	}
	// The mean alarm confidence moves toward confidences in (0,1]: beyond
	// 1 it would scale the series' window alarms toward 0 for hundreds of
	// alarms, below 0 make them all score 0.
	if !(s.AlarmConf >= 0 && s.AlarmConf <= 1) {
		return fmt.Errorf("mean alarm confidence %v outside [0,1]", s.AlarmConf)
	}
	for i := 1; i < artExtremes; i++ {
		if s.Top[i] > s.Top[i-1] || s.Bot[i] < s.Bot[i-1] {
			return fmt.Errorf("extremes out of order: %v, %v", s.Top, s.Bot)
		}
	}
	if err := s.Sp.check(); err != nil {
		return err
	}
	if s.MedLevel < 0 || s.MedLevel > artLevels {
		return fmt.Errorf("median level %d outside [0,%d]", s.MedLevel, artLevels)
	}
	if s.NCats > artCats {
		return fmt.Errorf("%d categories, at most %d", s.NCats, artCats)
	}
	if s.WinN > artWin {
		return fmt.Errorf("%d window levels, at most %d", s.WinN, artWin)
	}
	var below, above int
	for k, n := range s.Hist {
		switch {
		case k < int(s.MedLevel):
			below += int(n)
		case k > int(s.MedLevel):
			above += int(n)
		}
	}
	if below != int(s.Below) || above != int(s.Above) {
		return fmt.Errorf("median counts %d/%d, the histogram holds %d/%d", s.Below, s.Above, below, above)
	}
	return nil
}
