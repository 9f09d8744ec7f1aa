{{- define "speaker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "speaker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "speaker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "speaker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "speaker.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "speaker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "speaker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "speaker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "speaker.secretName" -}}
{{- default (include "speaker.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "speaker.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if and .Values.gpu.enabled (not .Values.image.tag) }}
{{- $tag = printf "%s-cuda" $tag }}
{{- end }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* "true" when more than one pod may run: they then share PostgreSQL, Redis and the volume. */}}
{{- define "speaker.several" -}}
{{- or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- end }}

{{/*
Refuse, at render time, set-ups that would fail once running: several replicas without the
shared database, Redis and volume they need, a network-facing server with no key, settings the
chart owns given again in env, an HPA whose minimum exceeds its maximum, and a disruption budget
that no eviction can satisfy.
*/}}
{{- define "speaker.checks" -}}
{{- $several := eq (include "speaker.several" .) "true" }}
{{- $s := .Values.secrets }}
{{- if and $several (not $s.existingSecret) (or (not $s.databaseUrl) (not $s.redisUrl)) }}
{{- fail "several replicas (replicaCount > 1 or autoscaling) share PostgreSQL and Redis: set secrets.databaseUrl and secrets.redisUrl, or secrets.existingSecret" }}
{{- end }}
{{- $data := .Values.persistence.data }}
{{- if and $several $data.enabled (not $data.existingClaim) (not (has "ReadWriteMany" $data.accessModes)) }}
{{- fail "several replicas share one data volume: set persistence.data.accessModes to [ReadWriteMany] (or persistence.data.existingClaim)" }}
{{- end }}
{{- $owned := dict "SPEAKER_HOST" "(the pod listens on 0.0.0.0)" "SPEAKER_PORT" "service.port" "SPEAKER_DATA_DIR" "persistence.data" "SPEAKER_MODELS_DIR" "persistence.models" "SPEAKER_DRAIN_TIMEOUT_S" "drainTimeoutSeconds" "SPEAKER_REPLICA_ID" "(the pod's name)" "SPEAKER_WYOMING_URI" "wyoming.enabled" }}
{{- range $name, $instead := $owned }}
{{- if hasKey $.Values.env $name }}
{{- fail (printf "env.%s is set by the chart (a second value would silently disagree with it, e.g. the grace period with the drain timeout): use %s" $name $instead) }}
{{- end }}
{{- end }}
{{- $a := .Values.autoscaling }}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if $pdb.enabled }}
{{- $fewest := ternary $a.minReplicas .Values.replicaCount $a.enabled | int }}
{{- $min := toString $pdb.minAvailable }}
{{- if or (eq $min "100%") (and (regexMatch "^[0-9]+$" $min) (ge (atoi $min) $fewest)) }}
{{- fail "podDisruptionBudget.minAvailable leaves no pod to evict, so node drains and cluster upgrades would block forever: lower it below replicaCount (autoscaling.minReplicas), or run more replicas" }}
{{- end }}
{{- end }}
{{- if and (not $s.existingSecret) (not $s.adminKey) (ne (toString (index .Values.env "SPEAKER_AUTH" | default "auto")) "off") }}
{{- fail "the server listens beyond loopback in its pod and refuses to start without an API key: set secrets.adminKey (or secrets.existingSecret with SPEAKER_ADMIN_KEY), or env.SPEAKER_AUTH: \"off\" behind your own authentication" }}
{{- end }}
{{- end }}
