//go:build !linux

package hugeheap

// Advise does nothing where there is no madvise(MADV_HUGEPAGE).
func Advise(reserve int) bool { return false }
