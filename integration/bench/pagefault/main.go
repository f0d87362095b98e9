// Command pagefault measures what the first write to a page of fresh
// memory costs on this machine: it maps anonymous memory, writes one byte
// per 4 KiB page, and prints the time per page, then the same after
// MADV_DONTNEED (memory the Go runtime returned to the kernel and takes
// back), for pages already present, for pages faulted in by one
// MAP_POPULATE mmap, and for memory advised MADV_HUGEPAGE (what
// plugins/hugeheap does to the heap of fleetprof's capture commands).
// BENCHMARKS.md ("Reading captures") uses it to explain the system time of
// fleetprof trim: on the project's Firecracker VMs a first touch costs
// 10-40 µs (over 200 µs under heavy load), 50 to 200 times what it costs on
// bare metal, while a huge page's fault or a populated mapping costs a few
// µs per 4 KiB.
//
// Usage: go run ./integration/bench/pagefault [-mib 256] [-runs 3]
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

const page = 4096

// madvHugepage is MADV_HUGEPAGE (the syscall package does not name it).
const madvHugepage = 14

func main() {
	mib := flag.Int("mib", 256, "MiB of memory to touch per run")
	runs := flag.Int("runs", 3, "runs; the median is printed")
	flag.Parse()
	if *mib <= 0 || *runs <= 0 {
		fmt.Fprintln(os.Stderr, "pagefault: -mib and -runs must be positive")
		os.Exit(2)
	}
	n := *mib << 20
	var first, again, present, populate, huge []float64
	for range *runs {
		b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pagefault: mmap:", err)
			os.Exit(1)
		}
		first = append(first, touch(b))
		if err := syscall.Madvise(b, syscall.MADV_DONTNEED); err != nil {
			fmt.Fprintln(os.Stderr, "pagefault: madvise:", err)
			os.Exit(1)
		}
		again = append(again, touch(b))
		present = append(present, touch(b))
		_ = syscall.Munmap(b)

		// The same pages faulted in by one system call.
		t := time.Now()
		b, err = syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pagefault: mmap:", err)
			os.Exit(1)
		}
		populate = append(populate, float64(time.Since(t).Nanoseconds())/1000/float64(n/page))
		_ = syscall.Munmap(b)

		// Touched after MADV_HUGEPAGE: a fault maps 2 MiB (plugins/hugeheap).
		b, err = syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pagefault: mmap:", err)
			os.Exit(1)
		}
		if err := syscall.Madvise(b, madvHugepage); err != nil {
			fmt.Fprintln(os.Stderr, "pagefault: madvise(MADV_HUGEPAGE):", err)
			os.Exit(1)
		}
		huge = append(huge, touch(b))
		_ = syscall.Munmap(b)
	}
	fmt.Printf("%d MiB (%d pages of 4 KiB), median of %d runs:\n", *mib, n/page, *runs)
	fmt.Printf("  first touch           %7.3f µs/page  (%.1f ms per MiB)\n", median(first), median(first)*256/1000)
	fmt.Printf("  after MADV_DONTNEED   %7.3f µs/page\n", median(again))
	fmt.Printf("  already present       %7.3f µs/page\n", median(present))
	fmt.Printf("  MAP_POPULATE          %7.3f µs/page  (one system call for all)\n", median(populate))
	fmt.Printf("  after MADV_HUGEPAGE   %7.3f µs/page  (a fault per 2 MiB)\n", median(huge))
}

// touch writes one byte per page of b and returns the time per page in µs.
func touch(b []byte) float64 {
	t := time.Now()
	for i := 0; i < len(b); i += page {
		b[i]++
	}
	return float64(time.Since(t).Nanoseconds()) / 1000 / float64(len(b)/page)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
