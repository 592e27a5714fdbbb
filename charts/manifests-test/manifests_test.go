// Package manifeststest renders the crvsx Helm chart with helm template
// and checks every rendered object offline: each decodes strictly (unknown
// fields refused) into its k8s.io/api type, and the properties the node
// depends on hold (probes, Secret file modes, security context, the
// per-pod node.json valid for node.Config).
//
// It is a module of its own so that the root module gains no Kubernetes
// dependencies. Run it from this directory: go test ./...
package manifeststest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecrn/crvsx/node"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// helm is the pinned Helm, run through the Go module proxy.
const helm = "helm.sh/helm/v3/cmd/helm@v3.22.0"

// chartDir is the chart, relative to this file's directory (go test runs
// in it).
var chartDir = filepath.Join("..", "crvsx")

// object is one rendered document, decoded into its typed value.
type object struct {
	kind, name string
	value      any
	raw        map[string]any
}

// render runs helm template with args and decodes every document strictly.
// allowServiceMonitor admits monitoring.coreos.com/v1 ServiceMonitor, which
// has no k8s.io/api type and is checked structurally.
func render(t *testing.T, allowServiceMonitor bool, args ...string) []object {
	t.Helper()
	cmdArgs := append([]string{"run", helm, "template", "rel", chartDir, "--namespace", "civreg"}, args...)
	cmd := exec.Command("go", cmdArgs...)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	var objs []object
	for _, doc := range splitYAML(out) {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("a document is not YAML: %v\n%s", err, doc)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(j, &head); err != nil {
			t.Fatalf("a document is not an object: %v\n%s", err, doc)
		}
		var v any
		switch head.APIVersion + " " + head.Kind {
		case "apps/v1 StatefulSet":
			v = &appsv1.StatefulSet{}
		case "v1 Service":
			v = &corev1.Service{}
		case "v1 ConfigMap":
			v = &corev1.ConfigMap{}
		case "v1 Secret":
			v = &corev1.Secret{}
		case "v1 ServiceAccount":
			v = &corev1.ServiceAccount{}
		case "policy/v1 PodDisruptionBudget":
			v = &policyv1.PodDisruptionBudget{}
		case "networking.k8s.io/v1 NetworkPolicy":
			v = &networkingv1.NetworkPolicy{}
		case "monitoring.coreos.com/v1 ServiceMonitor":
			if !allowServiceMonitor {
				t.Fatalf("ServiceMonitor %s rendered though serviceMonitor.enabled is off", head.Metadata.Name)
			}
			v = &map[string]any{}
		default:
			t.Fatalf("unexpected kind %s %s (%s): add it to the test's decoder", head.APIVersion, head.Kind, head.Metadata.Name)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s %s does not decode strictly: %v", head.Kind, head.Metadata.Name, err)
		}
		var raw map[string]any
		if err := json.Unmarshal(j, &raw); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, object{kind: head.Kind, name: head.Metadata.Name, value: v, raw: raw})
	}
	return objs
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitYAML splits a multi-document stream, dropping empty and
// comment-only documents.
func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSep.Split(string(b), -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			if s := strings.TrimSpace(line); s != "" && !strings.HasPrefix(s, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// only returns the one object of kind (and name, if not empty).
func only[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if o.kind == kind && (name == "" || o.name == name) {
			found = append(found, o.value.(T))
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s %q, found %d", kind, name, len(found))
	}
	return found[0]
}

func modeString(m *int32) string {
	if m == nil {
		return "unset"
	}
	return fmt.Sprintf("%#o", *m)
}

func count(objs []object, kind string) int {
	n := 0
	for _, o := range objs {
		if o.kind == kind {
			n++
		}
	}
	return n
}

// nodeConfig decodes a node.json as node.LoadConfig does (over the
// defaults, unknown fields refused) and validates it.
func nodeConfig(t *testing.T, key, text string) node.Config {
	t.Helper()
	c := node.DefaultConfig()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s is not a node configuration: %v\n%s", key, err, text)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("%s does not validate: %v", key, err)
	}
	return c
}

type release struct {
	name                 string
	args                 []string
	replicas             int
	nodeIDs              []string
	raftAdvertise        []string // per node; nil: none configured (founders use the genesis)
	serviceMonitor       bool
	allowRemotePlaintext bool
}

func TestChart(t *testing.T) {
	cases := []release{
		{name: "defaults", replicas: 1, nodeIDs: []string{"TJ-MOJ-CRVS"}},
		{name: "three-replicas", args: []string{"-f", filepath.Join(chartDir, "examples", "three-replicas.yaml")},
			replicas: 3, nodeIDs: []string{"TJ-MOJ-CRVS", "TJ-MOJ-CRVS2", "TJ-MOJ-CRVS3"},
			raftAdvertise: []string{"tj-crvsx-0.civreg.example.tj:7000", "tj-crvsx-1.civreg.example.tj:7000", "tj-crvsx-2.civreg.example.tj:7000"}},
		{name: "servicemonitor-remote-plaintext-webhook", args: []string{"--set", "serviceMonitor.enabled=true",
			"--set", "allowRemotePlaintext=true", "--set", "webhook.url=https://crvs.example.tj/hook",
			"--set", "exchange.peerTimeout=10s"},
			replicas: 1, nodeIDs: []string{"TJ-MOJ-CRVS"}, serviceMonitor: true, allowRemotePlaintext: true},
		{name: "no-secret-copy", args: []string{"--set", "secrets.copy.enabled=false"}, replicas: 1, nodeIDs: []string{"TJ-MOJ-CRVS"}},
	}
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) { checkRelease(t, rc) })
	}
}

func checkRelease(t *testing.T, rc release) {
	objs := render(t, rc.serviceMonitor, rc.args...)
	const full = "rel-crvsx"

	// The StatefulSet.
	sts := only[*appsv1.StatefulSet](t, objs, "StatefulSet", full)
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != rc.replicas {
		t.Errorf("replicas = %v, want %d", sts.Spec.Replicas, rc.replicas)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q", sts.Spec.PodManagementPolicy)
	}
	if sts.Spec.ServiceName != full+"-headless" {
		t.Errorf("serviceName = %q", sts.Spec.ServiceName)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Name != "data" {
		t.Errorf("volumeClaimTemplates: want one named data, have %+v", sts.Spec.VolumeClaimTemplates)
	}
	pod := sts.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.RunAsGroup == nil || *psc.RunAsGroup != 65532 || psc.FSGroup == nil || *psc.FSGroup != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext: %+v", psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken should be false")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for _, name := range []string{"keys", "tokens"} {
		v, ok := volumes[name]
		if !ok || v.Secret == nil {
			t.Errorf("volume %s: want a Secret volume", name)
			continue
		}
		if m := v.Secret.DefaultMode; m == nil || *m != 0o400 {
			t.Errorf("volume %s: defaultMode %s, want 0400", name, modeString(m))
		}
	}
	if v, ok := volumes["tmp"]; !ok || v.EmptyDir == nil {
		t.Errorf("no emptyDir volume tmp")
	}
	containers := append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...)
	for _, c := range containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s securityContext: %+v", c.Name, sc)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	for _, ic := range pod.InitContainers {
		// The secret copy runs the node's own image: nothing else to mirror.
		want := "node install-secrets --to /etc/crvsx/secrets /secrets-src/keys /secrets-src/tokens"
		if ic.Image != ctr.Image || strings.Join(ic.Args, " ") != want || len(ic.Command) != 0 {
			t.Errorf("init container %s: image %q command %q args %q; want the node's image %q with args %q", ic.Name, ic.Image, ic.Command, ic.Args, ctr.Image, want)
		}
	}
	wantArgs := []string{"node", "--config", "/etc/crvsx/config/$(POD_NAME).json"}
	if len(ctr.Args) < 3 || strings.Join(ctr.Args[:3], " ") != strings.Join(wantArgs, " ") {
		t.Errorf("args = %q, want them to start with %q", ctr.Args, wantArgs)
	}
	podNameEnv := false
	for _, e := range ctr.Env {
		if e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
			podNameEnv = true
		}
	}
	if !podNameEnv {
		t.Errorf("no POD_NAME from metadata.name in env")
	}
	ports := map[string]int32{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, probe := range map[string]*corev1.Probe{"/livez": ctr.LivenessProbe, "/readyz": ctr.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.String() != "health" ||
			probe.HTTPGet.Scheme != corev1.URISchemeHTTP {
			t.Errorf("probe %s: %+v", name, probe)
		}
	}
	if ports["health"] != 9090 || ports["peer"] != 8443 || ports["raft"] != 7000 {
		t.Errorf("container ports %v", ports)
	}
	mounts := map[string]string{}
	for _, m := range ctr.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["tmp"] != "/tmp" || mounts["data"] != "/srv/crvsx" || mounts["config"] != "/etc/crvsx/config" || mounts["genesis"] != "/etc/crvsx/genesis" {
		t.Errorf("node container mounts %v", mounts)
	}

	// The per-pod node.json files.
	cm := only[*corev1.ConfigMap](t, objs, "ConfigMap", full+"-config")
	if len(cm.Data) != rc.replicas {
		t.Errorf("ConfigMap has %d keys, want %d", len(cm.Data), rc.replicas)
	}
	for i, id := range rc.nodeIDs {
		key := fmt.Sprintf("%s-%d.json", full, i)
		text, ok := cm.Data[key]
		if !ok {
			t.Errorf("ConfigMap lacks %s (pod %s-%d's configuration)", key, full, i)
			continue
		}
		c := nodeConfig(t, key, text)
		if c.NodeID != id {
			t.Errorf("%s: nodeId %q, want %q", key, c.NodeID, id)
		}
		wantAdvertise := ""
		if rc.raftAdvertise != nil {
			wantAdvertise = rc.raftAdvertise[i]
		}
		if c.Listen.RaftAdvertise != wantAdvertise {
			t.Errorf("%s: listen.raftAdvertise %q, want %q (Raft binds every interface)", key, c.Listen.RaftAdvertise, wantAdvertise)
		}
		for name, want := range map[string]string{"peer": "0.0.0.0:8443", "raft": "0.0.0.0:7000", "health": "0.0.0.0:9090"} {
			got := map[string]string{"peer": c.Listen.Peer, "raft": c.Listen.Raft, "health": c.Listen.Health}[name]
			if got != want {
				t.Errorf("%s: listen.%s = %q, want %q", key, name, got, want)
			}
		}
		wantPrivate := "127.0.0.1"
		if rc.allowRemotePlaintext {
			wantPrivate = "0.0.0.0"
		}
		if c.Listen.Local != wantPrivate+":8080" || c.Listen.Admin != wantPrivate+":8444" || c.Listen.AllowRemotePlaintext != rc.allowRemotePlaintext {
			t.Errorf("%s: local %q admin %q allowRemotePlaintext %v", key, c.Listen.Local, c.Listen.Admin, c.Listen.AllowRemotePlaintext)
		}
		if c.DataDir != "/srv/crvsx/data" {
			t.Errorf("%s: dataDir %q is not on the data volume", key, c.DataDir)
		}
		if c.Keys.TLSCert != fmt.Sprintf("/etc/crvsx/secrets/keys/node-%d.crt", i) || c.Keys.TLSKey != fmt.Sprintf("/etc/crvsx/secrets/keys/node-%d.key", i) {
			t.Errorf("%s: TLS files %q %q", key, c.Keys.TLSCert, c.Keys.TLSKey)
		}
		for _, p := range []string{c.Keys.SigningKey, c.Keys.TLSKey, c.Local.TokensFile, c.Admin.TokensFile} {
			if !strings.HasPrefix(p, "/etc/crvsx/secrets/") {
				t.Errorf("%s: secret file %q is not under /etc/crvsx/secrets", key, p)
			}
		}
	}

	// Services.
	headless := only[*corev1.Service](t, objs, "Service", full+"-headless")
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("headless Service: clusterIP %q publishNotReadyAddresses %v", headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	svcPorts := func(s *corev1.Service) map[string]bool {
		m := map[string]bool{}
		for _, p := range s.Spec.Ports {
			m[p.Name] = true
		}
		return m
	}
	if hp := svcPorts(headless); !hp["peer"] || !hp["raft"] {
		t.Errorf("headless Service ports %v", hp)
	}
	sp := svcPorts(only[*corev1.Service](t, objs, "Service", full))
	if !sp["peer"] || sp["local"] != rc.allowRemotePlaintext || sp["admin"] != rc.allowRemotePlaintext {
		t.Errorf("Service ports %v (allowRemotePlaintext %v)", sp, rc.allowRemotePlaintext)
	}

	// The PodDisruptionBudget and the NetworkPolicy.
	pdb := only[*policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget", full)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable %v", pdb.Spec.MaxUnavailable)
	}
	np := only[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", full)
	open := map[string]bool{}      // ports open to anyone
	namespace := map[string]bool{} // ports open to this namespace's pods
	for _, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			name := p.Port.String()
			if len(r.From) == 0 {
				open[name] = true
			} else if len(r.From) == 1 && r.From[0].PodSelector != nil && len(r.From[0].PodSelector.MatchLabels) == 0 && r.From[0].NamespaceSelector == nil {
				namespace[name] = true
			}
		}
	}
	if !open["peer"] || !open["raft"] || open["local"] || open["admin"] || !namespace["local"] || !namespace["admin"] || !namespace["health"] {
		t.Errorf("NetworkPolicy: open to all %v, to the namespace %v", open, namespace)
	}

	// The ServiceMonitor, only when enabled.
	if n := count(objs, "ServiceMonitor"); n != map[bool]int{true: 1, false: 0}[rc.serviceMonitor] {
		t.Errorf("%d ServiceMonitors rendered (enabled %v)", n, rc.serviceMonitor)
	}
	for _, o := range objs {
		if o.kind != "ServiceMonitor" {
			continue
		}
		spec, _ := o.raw["spec"].(map[string]any)
		eps, _ := spec["endpoints"].([]any)
		if len(eps) != 1 {
			t.Fatalf("ServiceMonitor endpoints %v", spec["endpoints"])
		}
		ep, _ := eps[0].(map[string]any)
		if ep["port"] != "health" || ep["path"] != "/metrics" {
			t.Errorf("ServiceMonitor endpoint %v", ep)
		}
	}
}
