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
Where the in-chart Postgres and Redis passwords live: (name, key) of a Secret, the chart's own
(named by the component's fullname helper, the one name both the Secret and its lookup use) or
<component>.auth.existingSecret. Call with (dict "root" $ "component" "postgresql"|"redis").
*/}}
{{- define "vts.passwordSecretName" -}}
{{- $auth := get (get .root.Values .component) "auth" }}
{{- default (include (printf "vts.%s.fullname" .component) .root) $auth.existingSecret }}
{{- end }}

{{- define "vts.passwordSecretKey" -}}
{{- $auth := get (get .root.Values .component) "auth" }}
{{- if $auth.existingSecret }}
{{- $auth.existingSecretKey }}
{{- else -}}
password
{{- end }}
{{- end }}

{{/*
A password that stays the same across upgrades: the value given, else the one already in the component's
Secret (lookup of the name the Secret is rendered with; empty under `helm template`), else a new random
one. Remembered in .Values for the rest of this render, so the component's Secret and the URL in the vts
Secret always carry the same password. Call with (dict "root" $ "component" "postgresql"|"redis").
*/}}
{{- define "vts.password" -}}
{{- $root := .root }}
{{- $auth := get (get $root.Values .component) "auth" }}
{{- if not $auth.password }}
{{- $secretName := include (printf "vts.%s.fullname" .component) $root }}
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
{{- if and .Values.postgresql.enabled .Values.postgresql.auth.existingSecret }}
{{- else if .Values.postgresql.enabled }}
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
{{- if and .Values.redis.auth.enabled .Values.redis.auth.existingSecret }}
{{- else if .Values.redis.auth.enabled }}
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
Env entries that bring VTS_DATABASE_URL and VTS_REDIS_URL from Secrets (never from a ConfigMap). When the
in-chart Postgres or Redis takes its password from auth.existingSecret, the chart never sees it: the URL
is composed by the kubelet from the password's secretKeyRef ($(VAR) expansion), so the password still
reaches the pod only through a Secret.
*/}}
{{- define "vts.databaseEnv" -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.auth.existingSecret }}
{{- $auth := .Values.postgresql.auth }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $auth.existingSecret }}
      key: {{ $auth.existingSecretKey }}
- name: VTS_DATABASE_URL
  value: {{ printf "postgresql://%s:$(POSTGRES_PASSWORD)@%s:5432/%s" ($auth.username | urlquery) (include "vts.postgresql.fullname" .) $auth.database | quote }}
{{- else }}
- name: VTS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "vts.database.secretName" . }}
      key: {{ include "vts.database.secretKey" . }}
{{- end }}
{{- end }}

{{- define "vts.redisEnv" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.enabled .Values.redis.auth.existingSecret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.auth.existingSecret }}
      key: {{ .Values.redis.auth.existingSecretKey }}
- name: VTS_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "vts.redis.fullname" .) | quote }}
{{- else }}
- name: VTS_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "vts.redis.secretName" . }}
      key: {{ include "vts.redis.secretKey" . }}
{{- end }}
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

{{/*
The Secret the chart generates for API keys: the admin key (admin-key) and the metrics key (metrics-key),
each unless an existing Secret provides it.
*/}}
{{- define "vts.auth.fullname" -}}
{{- printf "%s-auth" (include "vts.fullname" .) }}
{{- end }}

{{/*
A key that stays the same across upgrades: the value given (.holder[.field]), else the one already in the
<fullname>-auth Secret under .secretKey (lookup; empty under `helm template`), else a new random one of 48
letters and digits. Remembered in .holder for the rest of this render, so the Secret and the checksums that
roll pods agree. Call with (dict "root" $ "holder" <values map> "field" "adminKey" "secretKey" "admin-key").
*/}}
{{- define "vts.generatedKey" -}}
{{- if not (get .holder .field) }}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "vts.auth.fullname" .root) }}
{{- if and $existing $existing.data (hasKey $existing.data .secretKey) }}
{{- $_ := set .holder .field (index $existing.data .secretKey | b64dec) }}
{{- else }}
{{- $_ := set .holder .field (randAlphaNum 48) }}
{{- end }}
{{- end }}
{{- get .holder .field }}
{{- end }}

{{/*
Where the admin key (VTS_ADMIN_KEY) comes from: (name, key) of a Secret.
*/}}
{{- define "vts.adminKey.secretName" -}}
{{- default (include "vts.auth.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{- define "vts.adminKey.secretKey" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecretKey }}
{{- else -}}
admin-key
{{- end }}
{{- end }}

{{/*
Where the metrics key (VTS_METRICS_KEY, the ServiceMonitor's bearer token) comes from.
*/}}
{{- define "vts.metricsKey.secretName" -}}
{{- default (include "vts.auth.fullname" .) .Values.metrics.auth.existingSecret }}
{{- end }}

{{- define "vts.metricsKey.secretKey" -}}
{{- if .Values.metrics.auth.existingSecret }}
{{- .Values.metrics.auth.existingSecretKey }}
{{- else -}}
metrics-key
{{- end }}
{{- end }}

{{/*
The operator's API key (VTS_API_KEY): its own Secret, else the admin key's.
*/}}
{{- define "vts.operatorKey.secretName" -}}
{{- default (include "vts.adminKey.secretName" .) .Values.operator.apiKey.existingSecret }}
{{- end }}

{{- define "vts.operatorKey.secretKey" -}}
{{- if .Values.operator.apiKey.existingSecret }}
{{- .Values.operator.apiKey.existingSecretKey }}
{{- else }}
{{- include "vts.adminKey.secretKey" . }}
{{- end }}
{{- end }}

{{/*
Env entries that bring the keys vts itself reads, from Secrets (never from a ConfigMap).
*/}}
{{- define "vts.authEnv" -}}
{{- if .Values.auth.enabled }}
- name: VTS_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "vts.adminKey.secretName" . }}
      key: {{ include "vts.adminKey.secretKey" . }}
{{- end }}
{{- if .Values.metrics.auth.enabled }}
- name: VTS_METRICS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "vts.metricsKey.secretName" . }}
      key: {{ include "vts.metricsKey.secretKey" . }}
{{- end }}
{{- end }}

{{/*
VTS_API_KEY for a client of vts (the operator, the helm test pod), when auth is on.
Call with (dict "name" <secret> "key" <key>).
*/}}
{{- define "vts.apiKeyEnv" -}}
- name: VTS_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
