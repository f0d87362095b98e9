package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/fleetprof/fleetprof/plugins/sdk/bucket"
)

// Image names every manifest must use (the registry is a placeholder that
// kustomization.yaml's images: rewrites).
const (
	imageRegistry  = "us-docker.pkg.dev/my-project/fleetprof/"
	collectorImage = imageRegistry + "fleetprof-collector"
	agentImage     = imageRegistry + "sglang-jax-fleetprof"
)

// object is one decoded manifest document.
type object struct {
	file string
	obj  any // *corev1.Service, *appsv1.StatefulSet, ...
	meta metav1.Object
}

// newObject returns an empty typed object for apiVersion and kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	}
	return nil, fmt.Errorf("kind %s %s: add it to newObject to validate it", apiVersion, kind)
}

// decodeStrict decodes one YAML document into its Kubernetes type: YAML to
// JSON (duplicate keys are errors), then encoding/json with unknown fields
// as errors.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, fmt.Errorf("type meta: %w", err)
	}
	obj, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data", tm.Kind)
	}
	return obj, nil
}

// loadManifests strict-decodes every document of every YAML file under k8s/
// except kustomization.yaml.
func loadManifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for i, doc := range splitDocuments(readFile(t, f)) {
			obj, err := decodeStrict(doc)
			if err != nil {
				t.Errorf("%s document %d: %v", f, i, err)
				continue
			}
			out = append(out, object{file: f, obj: obj, meta: obj.(metav1.Object)})
		}
	}
	if len(out) == 0 {
		t.Fatal("no manifests under k8s/")
	}
	return out
}

// find returns the object of type T with this namespace and name, or nil.
func find[T any](objs []object, namespace, name string) *T {
	for _, o := range objs {
		if v, ok := o.obj.(*T); ok && o.meta.GetNamespace() == namespace && o.meta.GetName() == name {
			return v
		}
	}
	return nil
}

// workload is a StatefulSet or Deployment, seen through what the checks need.
type workload struct {
	kind, namespace, name string
	template              *corev1.PodTemplateSpec
	selector              *metav1.LabelSelector
	claims                []corev1.PersistentVolumeClaim
	serviceName           string
	replicas              *int32
}

func workloads(objs []object) []workload {
	var out []workload
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.StatefulSet:
			out = append(out, workload{"StatefulSet", v.Namespace, v.Name, &v.Spec.Template, v.Spec.Selector,
				v.Spec.VolumeClaimTemplates, v.Spec.ServiceName, v.Spec.Replicas})
		case *appsv1.Deployment:
			out = append(out, workload{"Deployment", v.Namespace, v.Name, &v.Spec.Template, v.Spec.Selector,
				nil, "", v.Spec.Replicas})
		}
	}
	return out
}

// TestManifestsDecode strict-decodes every document and checks names,
// namespaces and uniqueness.
func TestManifestsDecode(t *testing.T) {
	objs := loadManifests(t)
	namespaces := map[string]bool{}
	for _, o := range objs {
		if _, ok := o.obj.(*corev1.Namespace); ok {
			namespaces[o.meta.GetName()] = true
		}
	}
	seen := map[string]string{}
	for _, o := range objs {
		kind := fmt.Sprintf("%T", o.obj)
		if o.meta.GetName() == "" {
			t.Errorf("%s: a %s has no metadata.name", o.file, kind)
		}
		if _, ok := o.obj.(*corev1.Namespace); !ok {
			if ns := o.meta.GetNamespace(); !namespaces[ns] {
				t.Errorf("%s: %s %s is in namespace %q, which no manifest creates", o.file, kind, o.meta.GetName(), ns)
			}
		}
		key := kind + "/" + o.meta.GetNamespace() + "/" + o.meta.GetName()
		if prev, ok := seen[key]; ok {
			t.Errorf("%s: %s defined again (first in %s)", o.file, key, prev)
		}
		seen[key] = o.file
	}
	if len(workloads(objs)) < 2 {
		t.Errorf("want the collector and the agent workloads, found %d", len(workloads(objs)))
	}
}

// TestManifestsDecodeRejects shows the strict decoding catches what a lax
// one would let through.
func TestManifestsDecodeRejects(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selectr: {a: b}}\n", `unknown field "selectr"`},
		{"duplicate key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nmetadata: {name: b}\n", "already set"},
		{"wrong type", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a}\nspec: {replicas: one}\n", "cannot unmarshal"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n", "add it to newObject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStrict([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeStrict(%q) = %v, want an error containing %q", tt.doc, err, tt.want)
			}
		})
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// TestPodSecurity checks every workload: non-root, read-only root file
// system, no privilege escalation, probes, resources, volumes, and images.
func TestPodSecurity(t *testing.T) {
	objs := loadManifests(t)
	for _, w := range workloads(objs) {
		t.Run(w.name, func(t *testing.T) {
			spec := w.template.Spec
			psc := spec.SecurityContext
			switch {
			case psc == nil:
				t.Fatal("no pod securityContext")
			case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
				t.Error("pod securityContext.runAsNonRoot is not true")
			case psc.RunAsUser == nil || *psc.RunAsUser == 0:
				t.Error("pod securityContext.runAsUser is unset or 0")
			case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
				t.Error("pod seccompProfile is not RuntimeDefault")
			}
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Error("automountServiceAccountToken is not false: neither daemon talks to the Kubernetes API")
			}
			if w.selector == nil {
				t.Fatal("no selector")
			}
			for k, v := range w.selector.MatchLabels {
				if w.template.Labels[k] != v {
					t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, w.template.Labels)
				}
			}
			if w.kind == "StatefulSet" {
				svc := find[corev1.Service](objs, w.namespace, w.serviceName)
				if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
					t.Errorf("serviceName %q is not a headless Service in %s", w.serviceName, w.namespace)
				}
			}
			if w.replicas == nil || *w.replicas != 1 {
				t.Errorf("replicas = %v, want 1 (one bbolt writer; one certificate per agent)", w.replicas)
			}

			volumes := map[string]corev1.Volume{}
			for _, v := range spec.Volumes {
				volumes[v.Name] = v
				if v.ConfigMap != nil && find[corev1.ConfigMap](objs, w.namespace, v.ConfigMap.Name) == nil {
					t.Errorf("volume %s: ConfigMap %s/%s is not in the manifests", v.Name, w.namespace, v.ConfigMap.Name)
				}
				if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
					t.Errorf("volume %s: secret defaultMode %v leaves the keys readable by others", v.Name, v.Secret.DefaultMode)
				}
			}
			claims := map[string]bool{}
			for _, c := range w.claims {
				claims[c.Name] = true
			}
			if len(spec.Containers) == 0 {
				t.Fatal("no containers")
			}
			for _, c := range spec.Containers {
				checkContainer(t, c, volumes, claims)
			}
		})
	}
}

// checkContainer checks one container of a workload.
func checkContainer(t *testing.T, c corev1.Container, volumes map[string]corev1.Volume, claims map[string]bool) {
	t.Helper()
	repo, tag, ok := strings.Cut(c.Image, ":")
	if !ok || tag == "" || tag == "latest" {
		t.Errorf("container %s: image %q has no pinned tag", c.Name, c.Image)
	}
	if repo != collectorImage && repo != agentImage {
		t.Errorf("container %s: image %q is neither %s nor %s", c.Name, c.Image, collectorImage, agentImage)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("container %s: no securityContext", c.Name)
		return
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
	case sc.Privileged != nil && *sc.Privileged:
		t.Errorf("container %s: privileged", c.Name)
	case sc.RunAsUser != nil && *sc.RunAsUser == 0, sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot:
		t.Errorf("container %s: runs as root", c.Name)
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
		t.Errorf("container %s: capabilities do not drop ALL", c.Name)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("container %s: no HTTP %s probe", c.Name, name)
			continue
		}
		if port := p.HTTPGet.Port.String(); ports[port] == 0 {
			t.Errorf("container %s: %s probe port %q is not a named container port", c.Name, name, port)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("container %s: no %s request", c.Name, r)
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("container %s: no memory limit", c.Name)
	}
	for _, m := range c.VolumeMounts {
		v, isVolume := volumes[m.Name]
		switch {
		case !isVolume && !claims[m.Name]:
			t.Errorf("container %s: mount %s names no volume or volumeClaimTemplate", c.Name, m.Name)
		case (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly:
			t.Errorf("container %s: %s holds a Secret or ConfigMap but is not mounted readOnly", c.Name, m.Name)
		}
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	for _, a := range slices.Concat(c.Command, c.Args) {
		for _, m := range envRef.FindAllStringSubmatch(a, -1) {
			if !env[m[1]] {
				t.Errorf("container %s: argument %q uses $(%s), which env does not define", c.Name, a, m[1])
			}
		}
	}
	// Every file a flag names lies in a mounted volume.
	agentArgs, _ := splitWrap(c.Args)
	for _, name := range []string{"tls-cert", "tls-key", "tls-ca", "tls-client-ca", "config", "rules", "data", "work-dir"} {
		path := flagValue(agentArgs, name)
		if path == "" {
			continue
		}
		if m := mountOf(c, path); m == nil {
			t.Errorf("container %s: --%s %s is in no mounted volume", c.Name, name, path)
		}
	}
}

// mountOf returns the volume mount holding path, or nil.
func mountOf(c corev1.Container, path string) *corev1.VolumeMount {
	for i, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// secretMounted reports whether path is a key of a Secret mounted read-only.
func secretMounted(c corev1.Container, spec corev1.PodSpec, path string) bool {
	m := mountOf(c, path)
	if m == nil || !m.ReadOnly {
		return false
	}
	for _, v := range spec.Volumes {
		if v.Name == m.Name {
			return v.Secret != nil && v.Secret.SecretName != ""
		}
	}
	return false
}

// configMapKey returns the ConfigMap data a file path in a ConfigMap
// volume maps to.
func configMapKey(t *testing.T, objs []object, namespace string, c corev1.Container, spec corev1.PodSpec, path string) string {
	t.Helper()
	m := mountOf(c, path)
	if m == nil {
		t.Fatalf("%s is in no mounted volume", path)
	}
	for _, v := range spec.Volumes {
		if v.Name != m.Name || v.ConfigMap == nil {
			continue
		}
		cm := find[corev1.ConfigMap](objs, namespace, v.ConfigMap.Name)
		key := strings.TrimPrefix(strings.TrimPrefix(path, m.MountPath), "/")
		data, ok := cm.Data[key]
		if !ok {
			t.Fatalf("ConfigMap %s has no key %q for %s", cm.Name, key, path)
		}
		return data
	}
	t.Fatalf("%s is not in a ConfigMap volume", path)
	return ""
}

// collectorParts returns the collector's StatefulSet, container and Service.
func collectorParts(t *testing.T, objs []object) (*appsv1.StatefulSet, corev1.Container, *corev1.Service) {
	t.Helper()
	ss := find[appsv1.StatefulSet](objs, "fleetprof", "fleetprof-collector")
	svc := find[corev1.Service](objs, "fleetprof", "fleetprof-collector")
	if ss == nil || svc == nil {
		t.Fatal("want StatefulSet and Service fleetprof/fleetprof-collector")
	}
	return ss, ss.Spec.Template.Spec.Containers[0], svc
}

// TestCollectorManifest checks the collector's StatefulSet and Service.
func TestCollectorManifest(t *testing.T) {
	objs := loadManifests(t)
	ss, c, svc := collectorParts(t, objs)
	spec := ss.Spec.Template.Spec
	args := slices.Concat(c.Command, c.Args)
	if len(c.Command) == 0 || filepath.Base(c.Command[0]) != "fleetprof-collector" {
		t.Errorf("command = %q, want fleetprof-collector", c.Command)
	}
	if repo, _, _ := strings.Cut(c.Image, ":"); repo != collectorImage {
		t.Errorf("image = %q, want %s:TAG", c.Image, collectorImage)
	}
	// bbolt lives on the volumeClaimTemplate.
	data := flagValue(args, "data")
	m := mountOf(c, data)
	if data == "" || m == nil || len(ss.Spec.VolumeClaimTemplates) == 0 || m.Name != ss.Spec.VolumeClaimTemplates[0].Name {
		t.Errorf("--data %q is not on the volumeClaimTemplate", data)
	}
	if len(ss.Spec.VolumeClaimTemplates) > 0 {
		if _, ok := ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			t.Error("volumeClaimTemplate requests no storage")
		}
	}
	for _, name := range []string{"tls-cert", "tls-key", "tls-client-ca"} {
		if p := flagValue(args, name); p == "" || !secretMounted(c, spec, p) {
			t.Errorf("--%s %q is not a file of a Secret mounted read-only", name, p)
		}
	}
	if slices.Contains(args, "--insecure") {
		t.Error("--insecure in the cluster: agents must use mTLS")
	}
	rules := configMapKey(t, objs, ss.Namespace, c, spec, flagValue(args, "rules"))
	checkDefaultRules(t, "ConfigMap rules.yaml", []byte(rules))

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	tests := []struct{ flag, port string }{{"listen", "grpc"}, {"http", "http"}}
	for _, tt := range tests {
		addr := flagValue(args, tt.flag)
		if want := fmt.Sprintf("0.0.0.0:%d", ports[tt.port]); addr != want {
			t.Errorf("--%s %q, want %s (container port %s)", tt.flag, addr, want, tt.port)
		}
	}
	for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "http" {
			t.Errorf("a probe is not GET /healthz on port http")
		}
	}
	svcPorts := map[string]corev1.ServicePort{}
	for _, p := range svc.Spec.Ports {
		svcPorts[p.Name] = p
	}
	for name, want := range map[string]int32{"grpc": 7070, "http": 7071} {
		p, ok := svcPorts[name]
		if !ok || p.Port != want || p.TargetPort.String() != name || ports[name] != want {
			t.Errorf("Service port %s = %+v, want %d → container port %s (%d)", name, p, want, name, ports[name])
		}
	}
	for k, v := range svc.Spec.Selector {
		if ss.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not select the collector's pods", k, v)
		}
	}
}

// TestAgentManifest checks the sglang-jax StatefulSet: GKE TPU scheduling,
// the agent as the entrypoint wrapping the server, the collector address,
// TLS from a Secret, labels from the downward API and the probes.
func TestAgentManifest(t *testing.T) {
	objs := loadManifests(t)
	ss := find[appsv1.StatefulSet](objs, "serving", "sglang-jax")
	if ss == nil {
		t.Fatal("want StatefulSet serving/sglang-jax")
	}
	_, _, collectorSvc := collectorParts(t, objs)
	spec := ss.Spec.Template.Spec
	c := spec.Containers[0]

	wantSelector := map[string]string{
		"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
		"cloud.google.com/gke-tpu-topology":    "1x1",
	}
	for k, v := range wantSelector {
		if spec.NodeSelector[k] != v {
			t.Errorf("nodeSelector[%s] = %q, want %q", k, spec.NodeSelector[k], v)
		}
	}
	tpu := corev1.ResourceName("google.com/tpu")
	lim, req := c.Resources.Limits[tpu], c.Resources.Requests[tpu]
	if lim.Value() != 1 || req.Value() != 1 {
		t.Errorf("google.com/tpu limit %v request %v, want 1 and 1", lim.String(), req.String())
	}
	if !slices.ContainsFunc(spec.Tolerations, func(tl corev1.Toleration) bool { return tl.Key == string(tpu) }) {
		t.Error("no toleration for the google.com/tpu taint of TPU node pools")
	}
	if repo, _, _ := strings.Cut(c.Image, ":"); repo != agentImage {
		t.Errorf("image = %q, want %s:TAG", c.Image, agentImage)
	}

	// fleetprof-agent [flags] --wrap -- python -m sgl_jax.launch_server ...
	if len(c.Command) != 1 || filepath.Base(c.Command[0]) != "fleetprof-agent" {
		t.Fatalf("command = %q, want [fleetprof-agent]", c.Command)
	}
	agentArgs, server := splitWrap(c.Args)
	if !slices.Contains(agentArgs, "--wrap") {
		t.Errorf("agent args %q lack --wrap", agentArgs)
	}
	if len(server) < 3 || server[0] != "python" || server[1] != "-m" || server[2] != "sgl_jax.launch_server" {
		t.Fatalf("wrapped command = %q, want python -m sgl_jax.launch_server ...", server)
	}
	if got := flagValue(server, "model-path"); got != "Qwen/Qwen3-0.6B" {
		t.Errorf("--model-path %q, want Qwen/Qwen3-0.6B", got)
	}
	serverPort := flagValue(server, "port")

	var grpcPort int32
	for _, p := range collectorSvc.Spec.Ports {
		if p.Name == "grpc" {
			grpcPort = p.Port
		}
	}
	wantCollector := fmt.Sprintf("%s.%s.svc.cluster.local:%d", collectorSvc.Name, collectorSvc.Namespace, grpcPort)
	if got := flagValue(agentArgs, "collector"); got != wantCollector {
		t.Errorf("--collector %q, want the collector Service %s", got, wantCollector)
	}
	for _, name := range []string{"tls-cert", "tls-key", "tls-ca"} {
		if p := flagValue(agentArgs, name); p == "" || !secretMounted(c, spec, p) {
			t.Errorf("--%s %q is not a file of a Secret mounted read-only", name, p)
		}
	}
	if slices.Contains(agentArgs, "--insecure") {
		t.Error("--insecure: the agent must use mTLS to the collector")
	}

	// The id and labels come from the downward API.
	fieldRefs := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			fieldRefs[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if id := flagValue(agentArgs, "id"); id != "$(POD_NAME)" || fieldRefs["POD_NAME"] != "metadata.name" {
		t.Errorf("--id %q with POD_NAME from %q, want $(POD_NAME) from metadata.name (the certificate's CN)", id, fieldRefs["POD_NAME"])
	}
	var downward int
	for i, a := range agentArgs {
		if a != "--label" || i+1 == len(agentArgs) {
			continue
		}
		for _, m := range envRef.FindAllStringSubmatch(agentArgs[i+1], -1) {
			if fieldRefs[m[1]] != "" {
				downward++
			}
		}
	}
	if downward < 2 {
		t.Errorf("%d labels from the downward API, want at least 2", downward)
	}

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if fmt.Sprint(ports["http"]) != serverPort {
		t.Errorf("container port http = %d, server --port %s", ports["http"], serverPort)
	}
	if got := flagValue(agentArgs, "http"); got != fmt.Sprintf("0.0.0.0:%d", ports["agent"]) {
		t.Errorf("agent --http %q, want 0.0.0.0:%d (container port agent) so the kubelet reaches /healthz", got, ports["agent"])
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" || p.HTTPGet.Port.String() != "http" {
		t.Error("readiness probe: want GET /health on the model server's port")
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.String() != "agent" {
		t.Error("liveness probe: want GET /healthz on the agent's port")
	}
	// The spool survives rescheduling.
	work := flagValue(agentArgs, "work-dir")
	if m := mountOf(c, work); m == nil || len(ss.Spec.VolumeClaimTemplates) == 0 || m.Name != ss.Spec.VolumeClaimTemplates[0].Name {
		t.Errorf("--work-dir %q (spool and raw output) is not on the volumeClaimTemplate", work)
	}
	configMapKey(t, objs, ss.Namespace, c, spec, flagValue(agentArgs, "config"))
}

// TestImagesConsistent checks that every workload uses the two images with
// one tag, and that kustomization.yaml lists them and every manifest.
func TestImagesConsistent(t *testing.T) {
	objs := loadManifests(t)
	tags := map[string]bool{}
	used := map[string]bool{}
	for _, w := range workloads(objs) {
		for _, c := range w.template.Spec.Containers {
			repo, tag, _ := strings.Cut(c.Image, ":")
			tags[tag] = true
			used[repo] = true
		}
	}
	if len(tags) != 1 {
		t.Errorf("image tags %v: want one release tag everywhere", tags)
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(readFile(t, "k8s/kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml kind %q", k.Kind)
	}
	listed := map[string]bool{}
	for _, img := range k.Images {
		listed[img.Name] = true
		if !used[img.Name] {
			t.Errorf("kustomization.yaml image %s is used by no workload", img.Name)
		}
		if !tags[img.NewTag] {
			t.Errorf("kustomization.yaml image %s newTag %q differs from the manifests' %v", img.Name, img.NewTag, tags)
		}
	}
	for repo := range used {
		if !listed[repo] {
			t.Errorf("image %s is missing from kustomization.yaml images", repo)
		}
	}
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(k.Resources, base) {
			t.Errorf("kustomization.yaml resources do not list %s", base)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization.yaml resource %s: %v", r, err)
		}
	}
}

// checkDefaultRules checks that doc holds exactly the built-in rules.
func checkDefaultRules(t *testing.T, what string, doc []byte) {
	t.Helper()
	got, err := bucket.Parse(doc)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	want := bucket.Default()
	if got.Default != want.Default || len(got.Rules) != len(want.Rules) {
		t.Fatalf("%s: default %q with %d rules, want %q with %d (bucket.DefaultDocument)",
			what, got.Default, len(got.Rules), want.Default, len(want.Rules))
	}
	for i := range want.Rules {
		g, w := got.Rules[i], want.Rules[i]
		if g.Component != w.Component || g.Name != w.Name || g.Type != w.Type || g.Category != w.Category || g.Kernel != w.Kernel {
			t.Errorf("%s: rule %d = {%s %q %q %q %q}, want {%s %q %q %q %q}", what, i,
				g.Component, g.Name, g.Type, g.Category, g.Kernel, w.Component, w.Name, w.Type, w.Category, w.Kernel)
		}
	}
}
