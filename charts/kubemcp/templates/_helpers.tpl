{{/*
Names are fixed, not derived from the release name: KubeMCP runs once per cluster (its CRD,
ClusterRoles and McpPolicies are cluster-wide), and the objects are the same whether Helm or
`kubectl apply -k config/default` installed them.
*/}}

{{/* The labels Helm adds to every object's metadata; the kustomize base has none of them. */}}
{{- define "kubemcp.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* metadata.labels of most objects. */}}
{{- define "kubemcp.labels" -}}
app.kubernetes.io/name: kubemcp
{{ include "kubemcp.helmLabels" . }}
{{- end }}

{{/* metadata.labels of the operator's own objects (Deployment, ServiceAccount, ClusterRole). */}}
{{- define "kubemcp.operatorLabels" -}}
{{ include "kubemcp.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's pods: selectors and pod template labels (immutable in a Deployment). */}}
{{- define "kubemcp.selectorLabels" -}}
app.kubernetes.io/name: kubemcp
app.kubernetes.io/component: operator
{{- end }}

{{/* The Secret holding the confirmation key. */}}
{{- define "kubemcp.confirmationKeySecret" -}}
{{ .Values.confirmationKey.existingSecret | default "kubemcp-confirmation-key" }}
{{- end }}

{{/* Refuse values that would install a broken or unsafe operator (types and names: values.schema.json). */}}
{{- define "kubemcp.validate" -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicas) 1) }}
{{- fail "leaderElection.enabled=false needs replicas: 1 (without a leader every replica would write McpPolicy status and Events)" }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (not (kindIs "string" .Values.podDisruptionBudget.minAvailable)) }}
{{- if ge (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicas) }}
{{- fail (printf "podDisruptionBudget.minAvailable (%d) must be below replicas (%d), or no pod could ever be evicted: set podDisruptionBudget.enabled=false with replicas: 1" (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicas)) }}
{{- end }}
{{- end }}
{{- end }}
