package hugeheap

import (
	"math"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// arena is the granularity in which the Go runtime maps heap address
	// space on 64-bit Linux (heapArenaBytes).
	arena = 64 << 20
	// huge is the size of a transparent huge page on amd64 and arm64.
	huge = 2 << 20
	// madvPopulateWrite is MADV_POPULATE_WRITE (Linux 5.14).
	madvPopulateWrite = 23
)

// Advise makes the runtime map at least reserve bytes of heap address
// space, advises all of it and the heap already mapped MADV_HUGEPAGE, and
// hands the memory back untouched (no page of it is faulted in: a fresh
// allocation from the OS is not zeroed again). The next collection frees it,
// and the heap then grows into the advised range, a huge page per fault.
//
// The heap's first huge-page-sized stretch already holds what package
// initialisation allocated, in small pages, and cannot become a huge page;
// its remaining pages are faulted in at once (MADV_POPULATE_WRITE, one
// system call instead of a fault each).
//
// It reports whether the kernel took the advice; where it did not (THP
// "never", an old kernel) nothing changed. Call it once, before the work
// that grows the heap (the CLI calls it before it reads the first
// capture); it costs a collection of a small heap, which runs beside that
// work.
func Advise(reserve int) bool {
	if reserve <= 0 {
		return false
	}
	first := new([64]byte) // a small object, near the heap's low end
	// The reservation is garbage at once: neither GOGC nor the memory
	// limit may start a collection for it.
	gcPercent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	big := make([]byte, reserve)
	pf := uintptr(unsafe.Pointer(first))
	pb := uintptr(unsafe.Pointer(unsafe.SliceData(big)))
	lo := min(pf, pb) &^ (arena - 1)
	hi := (max(pf, pb+uintptr(reserve)) + arena - 1) &^ (arena - 1)
	runtime.KeepAlive(big)
	// Holes in the range (address space the runtime has not mapped) make
	// madvise answer ENOMEM after it advised the mapped parts.
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, lo, hi-lo, unix.MADV_HUGEPAGE)
	big = nil
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(gcPercent)
	// The stretch that holds first: what the runtime has not mapped in it
	// (none, as it maps the heap in larger steps) makes the call fail,
	// which costs nothing but the faults it would have saved.
	unix.Syscall(unix.SYS_MADVISE, pf&^(huge-1), huge, madvPopulateWrite)
	runtime.KeepAlive(first)
	return errno == 0 || errno == unix.ENOMEM
}
