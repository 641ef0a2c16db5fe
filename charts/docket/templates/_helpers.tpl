{{/*
Named templates of the Docket chart: names, labels, the workloads of the
chosen layout, the settings file, the common environment and the security
contexts. Templates of each kind iterate over "docket.workloads".
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "docket.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-docket (or the release name when it already says docket), or fullnameOverride. */}}
{{- define "docket.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "docket.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select every pod of this release. */}}
{{- define "docket.selectorLabels" -}}
app.kubernetes.io/name: {{ include "docket.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "docket.labels" -}}
helm.sh/chart: {{ include "docket.chart" . }}
{{ include "docket.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: docket
{{- end -}}

{{/* Selector labels of one workload: dict "root" $ "component" name. */}}
{{- define "docket.componentSelectorLabels" -}}
{{ include "docket.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of one workload's objects: dict "root" $ "component" name. */}}
{{- define "docket.componentLabels" -}}
{{ include "docket.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "docket.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "docket.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "docket.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The services that consume events (docket::app::CONSUMERS): their queues are
named in events.consumers. Add a new consuming service here.
*/}}
{{- define "docket.eventConsumers" -}}
case notification billing portal knowledge
{{- end -}}

{{/* Enabled components, sorted by name, as a JSON list. */}}
{{- define "docket.enabledComponents" -}}
{{- $enabled := list -}}
{{- range $name, $component := .Values.components -}}
{{- if $component.enabled -}}
{{- $enabled = append $enabled $name -}}
{{- end -}}
{{- end -}}
{{- toJson $enabled -}}
{{- end -}}

{{/*
The Deployments of the chosen layout, as a JSON list of
  {name, component, targets, grpc, gateway, spec}
name: the object name; component: the component label; targets: the
arguments after `serve`; grpc/gateway: whether it serves gRPC / HTTP;
spec: its replicas, resources, autoscaling, ... from values.
*/}}
{{- define "docket.workloads" -}}
{{- $fullname := include "docket.fullname" . -}}
{{- $enabled := include "docket.enabledComponents" . | fromJsonArray -}}
{{- $workloads := list -}}
{{- if eq .Values.layout "monolithic" -}}
{{- $grpc := gt (len (without $enabled "gateway")) 0 -}}
{{- $workloads = append $workloads (dict "name" $fullname "component" "monolith" "targets" $enabled "grpc" $grpc "gateway" (has "gateway" $enabled) "spec" .Values.monolithic) -}}
{{- else -}}
{{- range $name := $enabled -}}
{{- $spec := index $.Values.components $name -}}
{{- $workloads = append $workloads (dict "name" (printf "%s-%s" $fullname $name) "component" $name "targets" (list $name) "grpc" (ne $name "gateway") "gateway" (eq $name "gateway") "spec" $spec) -}}
{{- end -}}
{{- end -}}
{{- toJson $workloads -}}
{{- end -}}

{{/* The Service name a component answers on: dict "root" $ "component" name. */}}
{{- define "docket.serviceHost" -}}
{{- if eq .root.Values.layout "monolithic" -}}
{{- include "docket.fullname" .root -}}
{{- else -}}
{{- printf "%s-%s" (include "docket.fullname" .root) .component -}}
{{- end -}}
{{- end -}}

{{/* http://<service>:<grpc port> of a component, or its address from values: dict "root" $ "component" name. */}}
{{- define "docket.serviceUrl" -}}
{{- with (index .root.Values.components .component).address -}}
{{- printf "http://%s" . -}}
{{- else -}}
{{- printf "http://%s:%d" (include "docket.serviceHost" .) (int64 .root.Values.ports.grpc) -}}
{{- end -}}
{{- end -}}

{{/* The gateway's public address: publicBaseUrl, else from the Ingress, else its Service. */}}
{{- define "docket.publicBaseUrl" -}}
{{- if .Values.publicBaseUrl -}}
{{- .Values.publicBaseUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- $tls := false -}}
{{- range .Values.ingress.tls -}}
{{- if has $.Values.ingress.host .hosts -}}{{- $tls = true -}}{{- end -}}
{{- end -}}
{{- printf "%s://%s" (ternary "https" "http" $tls) .Values.ingress.host -}}
{{- else -}}
{{- printf "http://%s:%d" (include "docket.serviceHost" (dict "root" . "component" "gateway")) (int64 .Values.ports.http) -}}
{{- end -}}
{{- end -}}

{{/*
Checks what the schema cannot: the services each enabled one calls are enabled.
*/}}
{{- define "docket.validate" -}}
{{- $enabled := include "docket.enabledComponents" . | fromJsonArray -}}
{{- if not $enabled -}}
{{- fail "components: enable at least one component" -}}
{{- end -}}
{{- $needs := dict "gateway" (list "case" "portal" "billing" "knowledge") "notification" (list "case" "portal") "billing" (list "case") "portal" (list "case") "knowledge" (list "case") -}}
{{- range $caller, $callees := $needs -}}
{{- if has $caller $enabled -}}
{{- range $callee := $callees -}}
{{- if not (has $callee $enabled) -}}
{{- fail (printf "components.%s.enabled: %s calls the %s service; enable components.%s too" $callee $caller $callee $callee) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not (has "gateway" $enabled)) -}}
{{- fail "ingress.enabled: the Ingress routes to the gateway; enable components.gateway" -}}
{{- end -}}
{{- end -}}

{{/*
The settings the chart writes to docket.toml: values.config with what the
chart owns filled in. A YAML map of sections.
*/}}
{{- define "docket.settings" -}}
{{- $enabled := include "docket.enabledComponents" . | fromJsonArray -}}
{{- $s := deepCopy .Values.config -}}
{{- $url := dict -}}
{{- range $name := list "case" "notification" "billing" "portal" "knowledge" "gateway" -}}
{{- $_ := set $url $name (include "docket.serviceUrl" (dict "root" $ "component" $name)) -}}
{{- end -}}
{{- $consumers := list -}}
{{- range $name := splitList " " (include "docket.eventConsumers" .) -}}
{{- if has $name $enabled -}}{{- $consumers = append $consumers $name -}}{{- end -}}
{{- end -}}
{{- $_ := set $s "database" (merge (dict "migrate_on_start" false) (default dict $s.database)) -}}
{{- $_ := set $s "grpc" (merge (dict "listen" (printf "0.0.0.0:%d" (int64 .Values.ports.grpc))) (default dict $s.grpc)) -}}
{{- $_ := set $s "telemetry" (merge (dict "log_format" "json" "metrics_listen" (printf "0.0.0.0:%d" (int64 .Values.metrics.port))) (default dict $s.telemetry)) -}}
{{- $_ := set $s "events" (merge (dict "backend" "rabbitmq" "consumers" (join "," $consumers)) (default dict $s.events)) -}}
{{- $_ := set $s "kv" (merge (dict "backend" "redis") (default dict $s.kv)) -}}
{{- $_ := set $s "notification" (merge (dict "transport" "smtp" "case_service_url" $url.case "portal_service_url" $url.portal) (default dict $s.notification)) -}}
{{- $_ := set $s "billing" (merge (dict "case_service_url" $url.case) (default dict $s.billing)) -}}
{{- $_ := set $s "portal" (merge (dict "case_service_url" $url.case) (default dict $s.portal)) -}}
{{- $_ := set $s "knowledge" (merge (dict "case_service_url" $url.case) (default dict $s.knowledge)) -}}
{{- $gateway := merge (dict "listen" (printf "0.0.0.0:%d" (int64 .Values.ports.http)) "case_service_url" $url.case "portal_service_url" $url.portal "billing_service_url" $url.billing "knowledge_service_url" $url.knowledge "public_base_url" (include "docket.publicBaseUrl" .)) (default dict $s.gateway) -}}
{{- $hosts := compact (splitList "," (nospace (default "" $gateway.allowed_hosts))) -}}
{{- if and $hosts (not (has "localhost" $hosts)) -}}
{{- $hosts = append $hosts "localhost" -}}
{{- end -}}
{{- $_ := set $gateway "allowed_hosts" (join "," $hosts) -}}
{{- $_ := set $s "gateway" $gateway -}}
{{- toYaml $s -}}
{{- end -}}

{{/* One TOML value: a boolean, an integer or a string. */}}
{{- define "docket.tomlValue" -}}
{{- if kindIs "bool" . -}}
{{- . -}}
{{- else if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . | toJson -}}
{{- end -}}
{{- end -}}

{{/* One setting as an environment variable's text. */}}
{{- define "docket.plainValue" -}}
{{- if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* docket.toml: the settings as TOML sections. */}}
{{- define "docket.toml" -}}
# Written by the Docket chart. Secrets are not here: they reach the pods as
# DOCKET__... environment variables from the Secrets named in values.
{{- range $section, $keys := include "docket.settings" . | fromYaml }}

{{ printf "[%s]" $section }}
{{- range $key, $value := $keys }}
{{ $key }} = {{ include "docket.tomlValue" $value }}
{{- end }}
{{- end }}
{{ end -}}

{{/* An env entry from a Secret: dict "name" ENV "ref" {existingSecret, key}. */}}
{{- define "docket.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.existingSecret | quote }}
      key: {{ .ref.key | quote }}
{{- end -}}

{{/* Downward-API and OpenTelemetry variables: dict "root" $ "service" otel-name. */}}
{{- define "docket.telemetryEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_SERVICE_NAME
  value: {{ .service | quote }}
{{- $attributes := list "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" (printf "service.version=%s" .root.Chart.AppVersion) }}
{{- range $key, $value := .root.Values.tracing.resourceAttributes }}
{{- $attributes = append $attributes (printf "%s=%s" $key $value) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attributes | quote }}
{{- with .root.Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
The environment of one workload: dict "root" $ "workload" w. The settings
file, then each secret the workload's targets need, then the tokens its gRPC
server accepts, then extraEnv.
*/}}
{{- define "docket.env" -}}
{{- $root := .root -}}
{{- $w := .workload -}}
{{- $enabled := include "docket.enabledComponents" $root | fromJsonArray -}}
{{- $secrets := $root.Values.secrets -}}
{{ include "docket.telemetryEnv" (dict "root" $root "service" (ternary (printf "docket-%s" (first $w.targets)) "docket" (eq (len $w.targets) 1))) }}
- name: DOCKET_CONFIG
  value: /etc/docket/docket.toml
{{- if $w.grpc }}
{{ include "docket.secretEnv" (dict "name" "DOCKET__DATABASE__URL" "ref" $secrets.databaseUrl) }}
{{ include "docket.secretEnv" (dict "name" "DOCKET__EVENTS__URL" "ref" $secrets.eventsUrl) }}
{{- end }}
{{- if or (has "case" $w.targets) (has "portal" $w.targets) (has "gateway" $w.targets) }}
{{ include "docket.secretEnv" (dict "name" "DOCKET__KV__URL" "ref" $secrets.kvUrl) }}
{{- end }}
{{- if and (has "notification" $w.targets) $secrets.smtpPassword.existingSecret }}
{{ include "docket.secretEnv" (dict "name" "DOCKET__NOTIFICATION__SMTP_PASSWORD" "ref" $secrets.smtpPassword) }}
{{- end }}
{{- if has "gateway" $w.targets }}
{{ include "docket.secretEnv" (dict "name" "DOCKET__GATEWAY__SECRET_KEY" "ref" $secrets.gatewaySecretKey) }}
{{- end }}
{{- /* Each target's own token, presented to the services it calls. */}}
{{- range $target := $w.targets }}
{{- if or (ne $target "case") (has "billing" $enabled) }}
{{ include "docket.secretEnv" (dict "name" (printf "DOCKET__%s__SERVICE_TOKEN" (upper $target)) "ref" (index $root.Values.components $target).serviceToken) }}
{{- end }}
{{- end }}
{{- /* case.billing_service_url comes with case.service_token, so only where case runs. */}}
{{- if and (has "case" $w.targets) (has "billing" $enabled) }}
- name: DOCKET__CASE__BILLING_SERVICE_URL
  value: {{ include "docket.serviceUrl" (dict "root" $root "component" "billing") | quote }}
{{- end }}
{{- /* The tokens a gRPC server accepts: every enabled component's, and extraTokens. */}}
{{- if $w.grpc }}
{{- range $name := $enabled }}
{{- $prefix := printf "DOCKET__AUTH__TOKENS__%s" (upper $name) }}
{{ include "docket.secretEnv" (dict "name" (printf "%s__TOKEN" $prefix) "ref" (index $root.Values.components $name).serviceToken) }}
- name: {{ $prefix }}__ROLE
  value: service
{{- if or (eq $name "portal") (eq $name "gateway") }}
- name: {{ $prefix }}__ACTS_FOR_CONTACTS
  value: "true"
{{- end }}
{{- end }}
{{- range $name, $token := $secrets.extraTokens }}
{{- $prefix := printf "DOCKET__AUTH__TOKENS__%s" (upper $name) }}
{{ include "docket.secretEnv" (dict "name" (printf "%s__TOKEN" $prefix) "ref" $token) }}
- name: {{ $prefix }}__ROLE
  value: {{ $token.role | quote }}
{{- with $token.staffId }}
- name: {{ $prefix }}__STAFF_ID
  value: {{ . | quote }}
{{- end }}
{{- if $token.actsForContacts }}
- name: {{ $prefix }}__ACTS_FOR_CONTACTS
  value: "true"
{{- end }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with $w.spec.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod security context. */}}
{{- define "docket.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{/* Container security context. */}}
{{- define "docket.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{/* The probe timings of one kind: startup, liveness or readiness. */}}
{{- define "docket.probeTimings" -}}
periodSeconds: {{ int64 .periodSeconds }}
timeoutSeconds: {{ int64 .timeoutSeconds }}
failureThreshold: {{ int64 .failureThreshold }}
{{- end -}}

{{/* The gateway's HTTP probe of a path: dict "root" $ "path" p. */}}
{{- define "docket.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: http
  httpHeaders:
    - name: Host
      value: localhost
{{- end -}}

{{/* The gRPC health probe (grpc.health.v1, service ""). */}}
{{- define "docket.grpcProbe" -}}
grpc:
  port: {{ int64 .Values.ports.grpc }}
  service: ""
{{- end -}}
