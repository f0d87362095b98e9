package hugeheap

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
)

// TestAdviseHugePages checks that after Advise the heap grows in huge pages:
// 64 MiB of small objects cost a fault per 2 MiB, not one per 4 KiB page.
func TestAdviseHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(mode, []byte("[never]")) {
		t.Skipf("transparent huge pages are off on this machine (%q, %v): nothing to advise", bytes.TrimSpace(mode), err)
	}
	if Advise(0) {
		t.Fatal("Advise(0) reported advice taken")
	}
	if !Advise(Reserve) {
		t.Fatal("Advise: the kernel refused MADV_HUGEPAGE")
	}
	before := anonHuge(t)
	var r0, r1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r0); err != nil {
		t.Fatal(err)
	}
	const mib = 64
	var sink [][]*[8]int64
	for range mib {
		b := make([]*[8]int64, 0, 16<<10) // 16 Ki objects of 64 B: 1 MiB
		for range cap(b) {
			b = append(b, new([8]int64))
		}
		sink = append(sink, b)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r1); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(sink)
	faults := r1.Minflt - r0.Minflt
	after := anonHuge(t)
	t.Logf("%d MiB of small objects: %d minor faults; AnonHugePages %d → %d kB", mib, faults, before, after)
	if after <= before {
		t.Errorf("AnonHugePages did not grow (%d → %d kB): the heap is not in huge pages", before, after)
	}
	// 4 KiB pages would take ~2 faults per 8 KiB of objects and slices:
	// over 24,000 here; huge pages a few hundred.
	if faults > 8000 {
		t.Errorf("%d minor faults for %d MiB: the heap grew in small pages", faults, mib)
	}
}

// anonHuge returns the process's AnonHugePages in kB.
func anonHuge(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skipf("no /proc/self/smaps_rollup: %v", err)
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("AnonHugePages:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				t.Fatalf("AnonHugePages: %v", err)
			}
			return n
		}
	}
	t.Fatal("no AnonHugePages in /proc/self/smaps_rollup")
	return 0
}
