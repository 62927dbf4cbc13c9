{{/* Names: <release>-nebu unless the release name already contains "nebu". */}}
{{- define "nebu.fullname" -}}
{{- if contains "nebu" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-nebu" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nebu.labels" -}}
app.kubernetes.io/name: nebu
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "nebu.selectorLabels" -}}
app.kubernetes.io/name: nebu
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret is required whenever a secret value is needed. */}}
{{- define "nebu.needsSecret" -}}
{{- if or .Values.postgres.enabled .Values.etcd.endpoints .Values.oidc.issuer (eq .Values.media.backend "s3") -}}
true
{{- end -}}
{{- end -}}
