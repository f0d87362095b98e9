// Package hugeheap backs a short-lived command's Go heap with transparent
// huge pages where the kernel offers them only on request (THP "madvise",
// the default of most distributions).
//
// Why: the Go runtime maps its heap with 4 KiB pages, and each first touch
// of a page is a page fault. On the virtual machines fleetprof runs on a
// fault costs 10–40 µs (integration/bench/pagefault), so a command that
// touches 100 MB spends 0.25–1 s in the kernel before it computes
// anything. With the heap's address range advised MADV_HUGEPAGE, one fault
// maps 2 MiB. BENCHMARKS.md ("Huge pages for the heap") has the figures.
package hugeheap

// Reserve is how much heap address space Advise maps and advises unless told
// otherwise: the heap of a trim of a 4M-event capture stays inside it.
const Reserve = 128 << 20
