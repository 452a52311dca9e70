// netpol-eval answers, for each flow of a traffic matrix, whether a set of Kubernetes NetworkPolicies lets it
// through, with cyclonus' matcher (the NetworkPolicy semantics, evaluated offline: no cluster, no CNI).
//
//	netpol-eval < request.json > verdicts.json
//	netpol-eval --version
//
// request: {"policies": [NetworkPolicy...], "flows": [{"name", "source", "destination", "port", "portName", "protocol"}]}
// where a peer is {"ip", "namespace", "namespaceLabels", "podLabels"} (no namespace: outside the cluster).
// verdicts: [{"name", "allowed", "ingress", "egress"}], in the order of the flows.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	v1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Set at build time (scripts/setup-tools.sh): the cyclonus version and a digest of this source.
var version = "dev"

type peer struct {
	IP              string            `json:"ip"`
	Namespace       string            `json:"namespace"`
	NamespaceLabels map[string]string `json:"namespaceLabels"`
	PodLabels       map[string]string `json:"podLabels"`
}

type flow struct {
	Name        string `json:"name"`
	Source      peer   `json:"source"`
	Destination peer   `json:"destination"`
	Port        int    `json:"port"`
	PortName    string `json:"portName"`
	Protocol    string `json:"protocol"`
}

type request struct {
	Policies []*networkingv1.NetworkPolicy `json:"policies"`
	Flows    []flow                        `json:"flows"`
}

type verdict struct {
	Name    string `json:"name"`
	Allowed bool   `json:"allowed"`
	Ingress bool   `json:"ingress"`
	Egress  bool   `json:"egress"`
}

func trafficPeer(p peer) *matcher.TrafficPeer {
	if p.Namespace == "" {
		return &matcher.TrafficPeer{IP: p.IP}
	}
	return &matcher.TrafficPeer{IP: p.IP, Internal: &matcher.InternalPeer{Namespace: p.Namespace, NamespaceLabels: p.NamespaceLabels, PodLabels: p.PodLabels}}
}

func run() error {
	var req request
	decoder := json.NewDecoder(os.Stdin)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&req); err != nil {
		return fmt.Errorf("cannot read the request: %w", err)
	}
	for i, policy := range req.Policies {
		if policy == nil || len(policy.Spec.PolicyTypes) == 0 {
			return fmt.Errorf("policies[%d]: spec.policyTypes must be set (the API server defaults it; give it explicitly)", i)
		}
	}
	policies := matcher.BuildNetworkPolicies(false, req.Policies)
	verdicts := make([]verdict, 0, len(req.Flows))
	for i, f := range req.Flows {
		if f.Port <= 0 || f.Port > 65535 {
			return fmt.Errorf("flows[%d] (%s): port must be 1-65535, got %d", i, f.Name, f.Port)
		}
		protocol := v1.Protocol(f.Protocol)
		if protocol == "" {
			protocol = v1.ProtocolTCP
		}
		result := policies.IsTrafficAllowed(&matcher.Traffic{
			Source:           trafficPeer(f.Source),
			Destination:      trafficPeer(f.Destination),
			ResolvedPort:     f.Port,
			ResolvedPortName: f.PortName,
			Protocol:         protocol,
		})
		verdicts = append(verdicts, verdict{Name: f.Name, Allowed: result.IsAllowed(), Ingress: result.Ingress.IsAllowed(), Egress: result.Egress.IsAllowed()})
	}
	return json.NewEncoder(os.Stdout).Encode(verdicts)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("netpol-eval", version)
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: netpol-eval < request.json (or --version)")
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "netpol-eval:", err)
		os.Exit(1)
	}
}
