// Command pagefault measures what the first write to a page of fresh
// memory costs on this machine: it maps anonymous memory, writes one byte
// per 4 KiB page, and prints the time per page, then the same after
// MADV_DONTNEED (memory the Go runtime returned to the kernel and takes
// back) and for pages already present. BENCHMARKS.md ("Reading captures")
// uses it to explain the system time of fleetprof trim: on the project's
// Firecracker VMs a first touch costs about 10 µs, some 50 times what it
// costs on bare metal, so every MiB a command touches costs it ~2.5 ms.
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

func main() {
	mib := flag.Int("mib", 256, "MiB of memory to touch per run")
	runs := flag.Int("runs", 3, "runs; the median is printed")
	flag.Parse()
	if *mib <= 0 || *runs <= 0 {
		fmt.Fprintln(os.Stderr, "pagefault: -mib and -runs must be positive")
		os.Exit(2)
	}
	n := *mib << 20
	var first, again, present []float64
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
	}
	fmt.Printf("%d MiB (%d pages of 4 KiB), median of %d runs:\n", *mib, n/page, *runs)
	fmt.Printf("  first touch           %7.3f µs/page  (%.1f ms per MiB)\n", median(first), median(first)*256/1000)
	fmt.Printf("  after MADV_DONTNEED   %7.3f µs/page\n", median(again))
	fmt.Printf("  already present       %7.3f µs/page\n", median(present))
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
