package store

import (
	"encoding/json"
	"fmt"
)

// Commands returns every stored capture command (those whose capture has
// not been committed).
func (r *Reader) Commands() ([]Command, error) {
	var out []Command
	err := r.tx.Bucket(bCommands).ForEach(func(k, v []byte) error {
		var c Command
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("%w: command %q: %v", ErrCorrupt, k, err)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// DeleteCommand forgets a capture command.
func (w *Writer) DeleteCommand(id string) error {
	return w.tx.Bucket(bCommands).Delete([]byte(id))
}
