package localstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// GenesisHash is the prev_hash of a log's first entry.
var GenesisHash = strings.Repeat("0", 64)

// AuditEntry is one row of a tenant's audit log.
type AuditEntry struct {
	Seq           int64  `json:"seq"`
	Time          string `json:"time"`
	Kind          string `json:"kind"`
	Detail        string `json:"detail"`
	PolicyVersion string `json:"policy_version"`
	PrevHash      string `json:"prev_hash"`
	Hash          string `json:"hash,omitempty"`
}

// ComputeHash is SHA-256, in hex, over the canonical form of the entry (its
// fields but the hash, as JSON in a fixed order) followed by prev_hash.
func (e AuditEntry) ComputeHash() string {
	c := e
	c.Hash = ""
	b, _ := json.Marshal(c) // fields of fixed types in declaration order: canonical
	h := sha256.New()
	h.Write(b)
	h.Write([]byte(e.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

type auditHead struct {
	seq  int64
	hash string
}

const (
	sqlAuditHead   = `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`
	sqlAuditInsert = `INSERT INTO audit(seq, time, kind, detail, policy_version, prev_hash, hash) VALUES (?,?,?,?,?,?,?)`
)

// appendAudit adds an entry inside the caller's transaction (t.mu held).
func (t *tenantDB) appendAudit(now time.Time, kind string, detail any, policyVersion string) (auditHead, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return auditHead{}, err
	}
	head, err := t.auditHead()
	if err != nil {
		return auditHead{}, err
	}
	e := AuditEntry{Seq: head.seq + 1, Time: now.UTC().Format(time.RFC3339Nano), Kind: kind, Detail: string(d),
		PolicyVersion: policyVersion, PrevHash: head.hash}
	e.Hash = e.ComputeHash()
	st, err := t.stmt(sqlAuditInsert)
	if err != nil {
		return auditHead{}, err
	}
	_ = st.BindInt64(1, e.Seq)
	_ = st.BindText(2, e.Time)
	_ = st.BindText(3, e.Kind)
	_ = st.BindText(4, e.Detail)
	_ = st.BindText(5, e.PolicyVersion)
	_ = st.BindText(6, e.PrevHash)
	_ = st.BindText(7, e.Hash)
	if err := st.Exec(); err != nil {
		return auditHead{}, fmt.Errorf("audit: %w", err)
	}
	return auditHead{seq: e.Seq, hash: e.Hash}, nil
}

func (t *tenantDB) auditHead() (auditHead, error) {
	st, err := t.stmt(sqlAuditHead)
	if err != nil {
		return auditHead{}, err
	}
	defer st.Reset()
	if st.Step() {
		return auditHead{seq: st.ColumnInt64(0), hash: st.ColumnText(1)}, nil
	}
	if err := st.Err(); err != nil {
		return auditHead{}, err
	}
	return auditHead{hash: GenesisHash}, nil
}

// ChainError names the first entry of an audit log that does not verify.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

// VerifyResult summarizes a verified chain: its length and last hash, the
// value to keep elsewhere to detect a later truncation of the tail.
type VerifyResult struct {
	Entries  int64
	HeadSeq  int64
	HeadHash string
}

// verifyChain walks the audit table in seq order on conn.
func verifyChain(conn *sqlite3.Conn) (VerifyResult, error) {
	st, _, err := conn.Prepare(`SELECT seq, time, kind, detail, policy_version, prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return VerifyResult{}, err
	}
	defer st.Close()
	res := VerifyResult{HeadHash: GenesisHash}
	for st.Step() {
		e := AuditEntry{Seq: st.ColumnInt64(0), Time: st.ColumnText(1), Kind: st.ColumnText(2), Detail: st.ColumnText(3),
			PolicyVersion: st.ColumnText(4), PrevHash: st.ColumnText(5), Hash: st.ColumnText(6)}
		switch {
		case e.Seq != res.HeadSeq+1:
			return res, &ChainError{Seq: res.HeadSeq + 1, Reason: fmt.Sprintf("entry missing (next present is seq %d)", e.Seq)}
		case e.PrevHash != res.HeadHash:
			return res, &ChainError{Seq: e.Seq, Reason: "prev_hash does not match the previous entry's hash"}
		case e.ComputeHash() != e.Hash:
			return res, &ChainError{Seq: e.Seq, Reason: "hash does not match the entry's content"}
		}
		res.Entries++
		res.HeadSeq, res.HeadHash = e.Seq, e.Hash
	}
	return res, st.Err()
}

// VerifyAudit checks the tenant's audit chain on a read-only connection.
// A *ChainError names the first broken entry.
func (s *Store) VerifyAudit(tenant string) (VerifyResult, error) {
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return VerifyResult{}, err
	}
	defer conn.Close()
	return verifyChain(conn)
}

// AuditLog returns the tenant's audit entries with seq > after, in order.
func (s *Store) AuditLog(tenant string, after int64) ([]AuditEntry, error) {
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st, _, err := conn.Prepare(`SELECT seq, time, kind, detail, policy_version, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_ = st.BindInt64(1, after)
	var out []AuditEntry
	for st.Step() {
		out = append(out, AuditEntry{Seq: st.ColumnInt64(0), Time: st.ColumnText(1), Kind: st.ColumnText(2), Detail: st.ColumnText(3),
			PolicyVersion: st.ColumnText(4), PrevHash: st.ColumnText(5), Hash: st.ColumnText(6)})
	}
	return out, st.Err()
}

// Audit appends an entry to the tenant's audit log in its own transaction.
func (s *Store) Audit(tenant, kind string, detail any, policyVersion string) error {
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	return t.inTx(func() error {
		_, err := t.appendAudit(time.Now(), kind, detail, policyVersion)
		return err
	})
}
