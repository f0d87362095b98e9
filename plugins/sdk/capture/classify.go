package capture

import "strings"

// HostPlaneName is the name of the host's plane.
const HostPlaneName = "/host:CPU"

// IsDevicePlane reports whether a plane is a device's: "/device:TPU:0",
// "/device:GPU:3" and so on.
func IsDevicePlane(name string) bool { return strings.HasPrefix(name, "/device:") }

// IsHostPlane reports whether a plane is the host's CPU plane.
func IsHostPlane(name string) bool { return name == HostPlaneName }

// IsOpLine reports whether a device line carries ops: "XLA Ops" on TPUs, or a
// GPU stream ("Stream #14(Compute)"). Module, step, framework-op and
// name-scope lines overlay the ops and are not ops.
func IsOpLine(name string) bool {
	return name == "XLA Ops" || strings.HasPrefix(name, "Stream #")
}
