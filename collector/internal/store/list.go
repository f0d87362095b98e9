package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fleetprof/fleetprof/collector/internal/selector"
)

// Defaults for Filter.Limit.
const (
	// DefaultLimit is the page size when Filter.Limit is zero.
	DefaultLimit = 100
	// MaxLimit bounds Filter.Limit.
	MaxLimit = 1000
)

// Filter selects captures. The zero value selects every capture.
type Filter struct {
	// Selector must match the capture's labels.
	Selector selector.Selector
	// Since keeps captures committed at or after it; zero means no bound.
	Since time.Time
	// Until keeps captures committed before it; zero means no bound.
	Until time.Time
	// Trigger, Status and AgentID keep captures with that field, if set.
	Trigger, Status, AgentID string
	// Limit bounds the page. Zero means DefaultLimit; above MaxLimit means
	// MaxLimit.
	Limit int
	// PageToken continues a previous List.
	PageToken string
}

// match reports whether c passes f's field filters.
func (f *Filter) match(c *Capture) bool {
	return (f.Trigger == "" || c.Trigger == f.Trigger) &&
		(f.Status == "" || c.Status == f.Status) &&
		(f.AgentID == "" || c.AgentID == f.AgentID) &&
		f.Selector.Matches(c.Labels)
}

// List returns a page of the captures f selects, newest first, and the token
// of the next page ("" when there is none). It walks the most selective
// index it can (agent, trigger, status, an equal label) between the time
// bounds.
func (r *Reader) List(f Filter) ([]Capture, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var upper []byte
	if !f.Until.IsZero() {
		upper = u64(uint64(f.Until.UnixNano()))
	}
	if f.PageToken != "" {
		tok, err := base64.RawURLEncoding.DecodeString(f.PageToken)
		if err != nil || len(tok) < 9 {
			return nil, "", fmt.Errorf("%w: bad page token", ErrNotFound)
		}
		if upper == nil || bytes.Compare(tok, upper) < 0 {
			upper = tok
		}
	}
	var since int64
	if !f.Since.IsZero() {
		since = f.Since.UnixNano()
	}

	// Pick the index.
	var bucket *bolt.Bucket
	var prefix []byte
	switch {
	case f.AgentID != "":
		bucket, prefix = r.tx.Bucket(bIdxAgent), idxPrefix(f.AgentID)
	case f.Trigger != "":
		bucket, prefix = r.tx.Bucket(bIdxTrigger), idxPrefix(f.Trigger)
	case f.Status != "":
		bucket, prefix = r.tx.Bucket(bIdxStatus), idxPrefix(f.Status)
	default:
		for _, req := range f.Selector.Reqs {
			if req.Op == selector.Equal {
				if v := labelValue(req.Key, req.Value); v != "" {
					bucket, prefix = r.tx.Bucket(bIdxLabel), idxPrefix(v)
					break
				}
			}
		}
	}
	caps := r.tx.Bucket(bCaptures)
	if bucket == nil {
		bucket = caps
	}

	var out []Capture
	var next string
	cur := bucket.Cursor()
	k := seekLast(cur, prefix, upper)
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Prev() {
		ck := k
		if prefix != nil {
			ck = k[len(prefix):]
		}
		if keyTime(ck) < since {
			break
		}
		v := caps.Get(ck)
		if v == nil {
			return nil, "", fmt.Errorf("%w: index entry %q has no capture", ErrCorrupt, k)
		}
		var c Capture
		if err := json.Unmarshal(v, &c); err != nil {
			return nil, "", fmt.Errorf("%w: capture %q: %v", ErrCorrupt, keyID(ck), err)
		}
		if !f.match(&c) {
			continue
		}
		if len(out) == limit {
			last := out[len(out)-1]
			next = base64.RawURLEncoding.EncodeToString(captureKey(last.CreatedNS, last.ID))
			break
		}
		out = append(out, c)
	}
	return out, next, nil
}

// seekLast moves cur to the last key that has the prefix (an index prefix
// ending in its 0 separator, or nil for none) and, with upper, sorts below
// prefix+upper, and returns it: where a newest-first walk with cur.Prev
// starts. The key returned may lack the prefix when there is none; the
// walk checks.
func seekLast(cur *bolt.Cursor, prefix, upper []byte) []byte {
	var k []byte
	switch {
	case upper != nil:
		k, _ = cur.Seek(append(bytes.Clone(prefix), upper...))
	case prefix != nil:
		// Seek past the last key with the prefix, then step back.
		end := bytes.Clone(prefix)
		end[len(end)-1] = 1
		k, _ = cur.Seek(end)
	default:
		k, _ = cur.Last()
		return k
	}
	if k == nil {
		k, _ = cur.Last()
	} else {
		k, _ = cur.Prev() // keys are strictly below the bound
	}
	return k
}
