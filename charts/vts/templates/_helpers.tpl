{{/*
The chart's name, or nameOverride.
*/}}
{{- define "vts.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A fully qualified name: "<release>-<chart>", or just the release name when it already contains the chart's
name, or fullnameOverride. Truncated to 63 characters (a DNS label); component suffixes are at most 11
characters, so 52 leaves room for them.
*/}}
{{- define "vts.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "vts.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource. Each template adds app.kubernetes.io/component (server, migrate, postgresql,
redis, operator, test), which also keeps the selectors of the components apart.
*/}}
{{- define "vts.labels" -}}
helm.sh/chart: {{ include "vts.chart" . }}
{{ include "vts.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vts
{{- end }}

{{/*
Selector labels (immutable once a Deployment exists: never add to them).
*/}}
{{- define "vts.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vts.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount of the vts pods.
*/}}
{{- define "vts.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vts.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The vts image, also run by the migration Job and the operator.
*/}}
{{- define "vts.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "vts.operator.fullname" -}}
{{- printf "%s-operator" (include "vts.fullname" .) }}
{{- end }}

{{- define "vts.postgresql.fullname" -}}
{{- /* 52 at most: a StatefulSet's name plus a hash must fit the 63-character controller-revision label */}}
{{- printf "%s-postgresql" (include "vts.fullname" . | trunc 41 | trimSuffix "-") }}
{{- end }}

{{- define "vts.redis.fullname" -}}
{{- printf "%s-redis" (include "vts.fullname" .) }}
{{- end }}

{{/*
A password that stays the same across upgrades: the value given, else the one already in the component's
Secret (lookup; empty under `helm template`), else a new random one. Remembered in .Values for the rest of
this render, so the component's Secret and the URL in the vts Secret always carry the same password.
Call with (dict "root" $ "component" "postgresql"|"redis").
*/}}
{{- define "vts.password" -}}
{{- $root := .root }}
{{- $auth := get (get $root.Values .component) "auth" }}
{{- if not $auth.password }}
{{- $secretName := printf "%s-%s" (include "vts.fullname" $root) .component }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace $secretName }}
{{- if and $existing $existing.data (hasKey $existing.data "password") }}
{{- $_ := set $auth "password" (index $existing.data "password" | b64dec) }}
{{- else }}
{{- $_ := set $auth "password" (randAlphaNum 32) }}
{{- end }}
{{- end }}
{{- $auth.password }}
{{- end }}

{{/*
Where VTS_DATABASE_URL comes from: (name, key) of a Secret.
*/}}
{{- define "vts.database.secretName" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecret }}
{{- else }}
{{- include "vts.fullname" . }}
{{- end }}
{{- end }}

{{- define "vts.database.secretKey" -}}
{{- if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret }}
{{- .Values.externalDatabase.existingSecretKey }}
{{- else -}}
VTS_DATABASE_URL
{{- end }}
{{- end }}

{{/*
Where VTS_REDIS_URL comes from: (name, key) of a Secret.
*/}}
{{- define "vts.redis.secretName" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret }}
{{- .Values.externalRedis.existingSecret }}
{{- else }}
{{- include "vts.fullname" . }}
{{- end }}
{{- end }}

{{- define "vts.redis.secretKey" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.existingSecret }}
{{- .Values.externalRedis.existingSecretKey }}
{{- else -}}
VTS_REDIS_URL
{{- end }}
{{- end }}

{{/*
The database URL the vts Secret holds; empty when an existing Secret provides it.
*/}}
{{- define "vts.database.url" -}}
{{- if .Values.postgresql.enabled }}
{{- $auth := .Values.postgresql.auth }}
{{- $password := include "vts.password" (dict "root" . "component" "postgresql") }}
{{- printf "postgresql://%s:%s@%s:5432/%s" ($auth.username | urlquery) ($password | urlquery) (include "vts.postgresql.fullname" .) $auth.database }}
{{- else if .Values.externalDatabase.existingSecret }}
{{- else if .Values.externalDatabase.url }}
{{- .Values.externalDatabase.url }}
{{- else }}
{{- fail "vts needs a database: set postgresql.enabled=true, externalDatabase.url or externalDatabase.existingSecret" }}
{{- end }}
{{- end }}

{{/*
The Redis URL the vts Secret holds; empty when an existing Secret provides it.
*/}}
{{- define "vts.redis.url" -}}
{{- if .Values.redis.enabled }}
{{- if .Values.redis.auth.enabled }}
{{- $password := include "vts.password" (dict "root" . "component" "redis") }}
{{- printf "redis://:%s@%s:6379/0" ($password | urlquery) (include "vts.redis.fullname" .) }}
{{- else }}
{{- printf "redis://%s:6379/0" (include "vts.redis.fullname" .) }}
{{- end }}
{{- else if .Values.externalRedis.existingSecret }}
{{- else if .Values.externalRedis.url }}
{{- .Values.externalRedis.url }}
{{- else }}
{{- fail "vts needs a Redis: set redis.enabled=true, externalRedis.url or externalRedis.existingSecret" }}
{{- end }}
{{- end }}

{{/*
Env entries that bring VTS_DATABASE_URL and VTS_REDIS_URL from Secrets (never from a ConfigMap).
*/}}
{{- define "vts.databaseEnv" -}}
- name: VTS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "vts.database.secretName" . }}
      key: {{ include "vts.database.secretKey" . }}
{{- end }}

{{- define "vts.redisEnv" -}}
- name: VTS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "vts.redis.secretName" . }}
      key: {{ include "vts.redis.secretKey" . }}
{{- end }}

{{/*
Pod-level security for the third-party images (postgres, redis: their own non-root users).
Call with the uid.
*/}}
{{- define "vts.podSecurityContextFor" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security every container of the chart gets at least.
*/}}
{{- define "vts.restrictedContainerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop:
    - ALL
{{- end }}
