// kstatus prints what sigs.k8s.io/cli-utils' kstatus library (the status logic of Helm 4
// --wait, Flux and kpt) computes for each Kubernetes object read as JSON from stdin.
// Output: one JSON line {"status": "...", "message": "..."} per input object.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	dec := json.NewDecoder(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "kstatus: bad input:", err)
			os.Exit(2)
		}
		// Unstructured's own decoder keeps integers as int64, as kstatus expects.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			fmt.Fprintln(os.Stderr, "kstatus: bad object:", err)
			os.Exit(2)
		}
		res, err := status.Compute(obj)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kstatus:", err)
			os.Exit(1)
		}
		if err := enc.Encode(map[string]string{"status": res.Status.String(), "message": res.Message}); err != nil {
			os.Exit(1)
		}
	}
}
