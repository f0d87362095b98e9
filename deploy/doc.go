// Package deploy holds no code: it is the deployment files (systemd units,
// container images, docker compose, Kubernetes manifests, the TPU VM startup
// script and example configs) and the tests that validate them offline. CI
// has no network for schemas or base images, so the tests strict-decode the
// Kubernetes manifests into the k8s.io/api types, parse the compose file and
// configs, run systemd-analyze verify where it exists, check the Dockerfiles'
// structure, run the startup script against a fake metadata server, and check
// every flag the files pass against the real binaries' -help.
package deploy
