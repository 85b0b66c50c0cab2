{{/* Monitoring helpers (templates/monitoring-*.yaml). */}}

{{/* True when a monitoring.coreos.com/v1 kind is served, or rendering is forced. */}}
{{- define "dimini-operator.monitoring.served" -}}
{{- $root := index . 0 -}}
{{- $kind := index . 1 -}}
{{- if or $root.Values.monitoring.force ($root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" $kind)) -}}
true
{{- end -}}
{{- end -}}

{{/* The chart's labels plus monitoring.labels (these win: a Prometheus may select on them). */}}
{{- define "dimini-operator.monitoring.labels" -}}
{{- toYaml (merge (dict) .Values.monitoring.labels (include "dimini-operator.labels" . | fromYaml)) }}
{{- end -}}

{{/* Where the stacks' pods are: the listed namespaces, or any. */}}
{{- define "dimini-operator.monitoring.stackNamespaces" -}}
{{- if .Values.monitoring.stackNamespaces -}}
matchNames: {{- toYaml .Values.monitoring.stackNamespaces | nindent 2 }}
{{- else -}}
any: true
{{- end }}
{{- end -}}

{{/* Every series of a stack's pod carries `stack` (the DiminiStack's name) beside `namespace`. */}}
{{- define "dimini-operator.monitoring.stackRelabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance]
  targetLabel: stack
{{- end -}}
