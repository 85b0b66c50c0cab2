"""The sandbox: a real Kubernetes control plane on loopback, with KWOK simulating the nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the upstream binaries built
from the Go module proxy (sandbox/build.sh); KWOK plays the kubelets so pods are scheduled, reach
Running and (for Jobs) complete. `python -m sandbox up|down|status` drives it.
"""
