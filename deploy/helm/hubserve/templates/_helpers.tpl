{{- define "hubserve.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hubserve.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hubserve.labels" -}}
{{ include "hubserve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "hubserve.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding HUBSERVE_API_KEYS; none when serving without keys. */}}
{{- define "hubserve.apiKeysSecret" -}}
{{- if .Values.auth.existingSecret -}}
{{ .Values.auth.existingSecret }}
{{- else if .Values.auth.apiKeys -}}
{{ include "hubserve.fullname" . }}-api-keys
{{- else if not .Values.auth.insecure -}}
{{ fail "hubserve refuses to serve without API keys: set auth.existingSecret or auth.apiKeys, or auth.insecure=true where a network policy or gateway guards it" }}
{{- end -}}
{{- end -}}

{{/* Hub models, which init containers pull; local folders (./, /) are the image's or a volume's. */}}
{{- define "hubserve.hubModels" -}}
{{- range .Values.models -}}
{{- if not (or (hasPrefix "/" .source) (hasPrefix "." .source)) }}
- {{ toJson . }}
{{- end -}}
{{- end -}}
{{- end -}}
