package supervise

import "syscall"

// sysProcAttr puts the server in its own process group and asks the kernel
// to send it SIGTERM when the thread that started it dies, so the server
// does not outlive an agent that was killed with SIGKILL (it would hold its
// port and its TPU). runOnce keeps that thread alive until the server exits.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
