package store

import (
	"encoding/json"
	"fmt"
)

// Token is an API bearer token's record. The token itself is never stored:
// the record sits under the SHA-256 of the token (see collector/internal/auth).
type Token struct {
	// ID names the token in lists and revocations (not secret).
	ID string `json:"id"`
	// Name says whose or what for, for people.
	Name string `json:"name"`
	// Role is viewer, operator or admin.
	Role string `json:"role"`
	// CreatedNS is when it was created, epoch ns.
	CreatedNS int64 `json:"created_ns"`
}

// TokenByHash returns the token stored under a token hash; ErrNotFound if
// there is none (never created, or revoked).
func (r *Reader) TokenByHash(hash []byte) (*Token, error) {
	var t Token
	if err := r.get(bTokens, hash, &t); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &t, nil
}

// Tokens returns every token record (in hash order: sort for display).
func (r *Reader) Tokens() ([]Token, error) {
	var out []Token
	err := r.tx.Bucket(bTokens).ForEach(func(k, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("%w: token %x: %v", ErrCorrupt, k[:4], err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// HasTokens reports whether any token exists.
func (r *Reader) HasTokens() bool {
	k, _ := r.tx.Bucket(bTokens).Cursor().First()
	return k != nil
}

// PutToken stores a token record under the token's hash.
func (w *Writer) PutToken(hash []byte, t *Token) error {
	if len(hash) == 0 || !ValidID(t.ID) {
		return fmt.Errorf("put token %q: %w", t.ID, ErrBadID)
	}
	return w.put(bTokens, hash, t)
}

// DeleteToken removes the token with that id; ErrNotFound if there is none.
func (w *Writer) DeleteToken(id string) (*Token, error) {
	b := w.tx.Bucket(bTokens)
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, fmt.Errorf("%w: token %x: %v", ErrCorrupt, k[:4], err)
		}
		if t.ID == id {
			return &t, c.Delete()
		}
	}
	return nil, fmt.Errorf("token %q: %w", id, ErrNotFound)
}
