package localstore

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// AnchorFileName is the store's anchor log: append-only JSON lines, each a
// tenant's audit chain head at a moment, kept outside the tenant databases
// so that someone who rewrites a database (even with its key) cannot make
// the chain agree with what was anchored before. Copy it off the host (the
// collector also sends each anchor to _governance) to keep it out of
// reach of whoever can edit the store.
const AnchorFileName = "anchors.jsonl"

// AnchorLog is the path of the anchor log of the store in dir.
func AnchorLog(dir string) string { return storeFile(dir, AnchorFileName) }

// Anchor is one line of the anchor log.
type Anchor struct {
	Time   time.Time `json:"time"`
	Tenant string    `json:"tenant"`
	// Chain names the chain (from the tenant's chain key): a tenant id
	// cleared after shredding starts a new chain, which earlier anchors
	// do not describe.
	Chain string `json:"chain"`
	Seq   int64  `json:"seq"`
	Hash  string `json:"hash"`
}

func chainID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tenancy-localstore-chain-id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Anchors returns the chain head of every tenant whose chain grew in this
// process since its last anchor, and marks them anchored. Tenants this
// process did not write have nothing new to anchor from here.
func (s *Store) Anchors(now time.Time) ([]Anchor, error) {
	s.mu.Lock()
	open := make([]*tenantDB, 0, len(s.tenants))
	for _, t := range s.tenants {
		open = append(open, t)
	}
	s.mu.Unlock()
	sort.Slice(open, func(i, j int) bool { return open[i].id < open[j].id })
	var out []Anchor
	var errs []error
	for _, t := range open {
		a, ok, err := t.anchor(now)
		if err != nil {
			errs = append(errs, fmt.Errorf("localstore: tenant %s: anchor: %w", t.id, err))
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, errors.Join(errs...)
}

func (t *tenantDB) anchor(now time.Time) (Anchor, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil || t.chainKey == nil || t.headSeq == t.anchoredSeq {
		return Anchor{}, false, nil
	}
	if err := t.openLocked(); err != nil {
		return Anchor{}, false, err
	}
	head, err := t.auditHead()
	if err != nil {
		return Anchor{}, false, err
	}
	t.anchoredSeq, t.headSeq = head.seq, head.seq
	return Anchor{Time: now.UTC(), Tenant: t.id, Chain: chainID(t.chainKey), Seq: head.seq, Hash: head.hash}, true, nil
}

// AppendAnchors appends anchors to the store's anchor log and syncs it.
func (s *Store) AppendAnchors(anchors []Anchor) error {
	if len(anchors) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(s.dir, storeFilesDir), 0o750); err != nil {
		return fmt.Errorf("localstore: anchor log: %w", err)
	}
	f, err := os.OpenFile(AnchorLog(s.dir), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("localstore: anchor log: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, a := range anchors {
		if err := enc.Encode(a); err != nil {
			f.Close()
			return err
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// AnchorError says a tenant's chain does not contain what an anchor saw:
// its tail was cut off, or it was rebuilt after the anchored point.
type AnchorError struct {
	Anchor Anchor
	Reason string
}

func (e *AnchorError) Error() string {
	return fmt.Sprintf("anchor of %s (seq %d): %s", e.Anchor.Time.Format(time.RFC3339), e.Anchor.Seq, e.Reason)
}

// CheckAnchors checks the tenant's verified chain (res, from VerifyAudit)
// against every anchor in r for the same tenant and chain. It returns how
// many anchors it checked; an *AnchorError names the first that fails.
func (s *Store) CheckAnchors(tenant string, res VerifyResult, r io.Reader) (int, error) {
	conn, keys, err := s.openReadOnlyKey(tenant)
	if err != nil {
		return 0, err
	}
	conn.Close()
	chain := chainID(keys.chain)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	checked, line := 0, 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var a Anchor
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return checked, fmt.Errorf("anchor log line %d: %w", line, err)
		}
		if a.Tenant != tenant || a.Chain != chain {
			continue
		}
		checked++
		switch h, ok := res.Heads[a.Seq]; {
		case a.Seq > res.HeadSeq:
			return checked, &AnchorError{Anchor: a, Reason: fmt.Sprintf("the chain ends at seq %d: its tail was truncated", res.HeadSeq)}
		case !ok || h != a.Hash:
			return checked, &AnchorError{Anchor: a, Reason: "the chain's entry differs from the anchored one: the chain was rebuilt"}
		}
	}
	return checked, sc.Err()
}

// ChainAnchors returns the anchors in r of the tenant's current chain, in
// the log's order (their seqs only grow).
func (s *Store) ChainAnchors(tenant string, r io.Reader) ([]Anchor, error) {
	conn, keys, err := s.openReadOnlyKey(tenant)
	if err != nil {
		return nil, err
	}
	conn.Close()
	chain := chainID(keys.chain)
	var out []Anchor
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var a Anchor
		if json.Unmarshal(sc.Bytes(), &a) == nil && a.Tenant == tenant && a.Chain == chain {
			out = append(out, a)
		}
	}
	return out, sc.Err()
}

// FirstCovering is the earliest of a chain's anchors at or past seq: from
// then on, an entry up to seq could not be changed without audit verify
// --anchors noticing.
func FirstCovering(anchors []Anchor, seq int64) (Anchor, bool) {
	i := sort.Search(len(anchors), func(i int) bool { return anchors[i].Seq >= seq })
	if i == len(anchors) {
		return Anchor{}, false
	}
	return anchors[i], true
}
