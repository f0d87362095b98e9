package transport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// WriteAddrFile writes the addresses a daemon listens on, by name ("grpc",
// "api", "http", ...), to path as one JSON object, e.g.
// {"grpc":"127.0.0.1:41233","http":"127.0.0.1:41234"}. The write is
// atomic (a temporary file renamed over path): a reader finds no file or the
// whole of it. Every daemon given --addr-file calls it once all its
// listeners are bound, so a test or a supervisor can start it on port 0
// and read back the ports the kernel picked.
func WriteAddrFile(path string, addrs map[string]string) (err error) {
	b, err := json.Marshal(addrs)
	if err != nil {
		return fmt.Errorf("write address file %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write address file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write address file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write address file %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write address file %s: %w", path, err)
	}
	return nil
}

// ReadAddrFile reads the addresses WriteAddrFile wrote to path. Before the
// daemon has written it, the error satisfies errors.Is(err, fs.ErrNotExist).
func ReadAddrFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var addrs map[string]string
	if err := json.Unmarshal(b, &addrs); err != nil {
		return nil, fmt.Errorf("read address file %s: %w", path, err)
	}
	return addrs, nil
}
