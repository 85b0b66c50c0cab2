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

{{- /* An image reference from {repository, tag, digest}: repository@digest when a digest is set
(`make publish` writes it), else repository:tag (default tag: the chart's appVersion). */ -}}
{{- define "dimini-operator.imageRef" -}}
{{- $image := .image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else if contains "@" $image.repository -}}
{{- $image.repository -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .appVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "dimini-operator.image" -}}
{{- include "dimini-operator.imageRef" (dict "image" .Values.image "appVersion" .Chart.AppVersion) -}}
{{- end -}}

{{- /* The `helm test` pod's image: tests.image, or the operator's own (it carries the checks,
`python -m dimini_operator.selfcheck`), so an air-gapped install needs no other image. */ -}}
{{- define "dimini-operator.testImage" -}}
{{- if .Values.tests.image.repository -}}
{{- include "dimini-operator.imageRef" (dict "image" .Values.tests.image "appVersion" .Chart.AppVersion) -}}
{{- else -}}
{{- include "dimini-operator.image" . -}}
{{- end -}}
{{- end -}}
