{{- define "dimini-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dimini-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dimini-operator.labels" -}}
{{ include "dimini-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: dimini
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dimini-operator.serviceAccountName" -}}
{{- default (include "dimini-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "dimini-operator.watchNamespaces" -}}
{{- if eq .Values.rbac.scope "namespace" -}}
{{- default (list .Release.Namespace) .Values.watchNamespaces | join "," -}}
{{- end -}}
{{- end -}}
