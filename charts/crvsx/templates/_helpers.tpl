{{/* The chart name. */}}
{{- define "crvsx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resource name prefix; the pods are "<fullname>-N". Kept to 52
characters so that "<fullname>-headless" and pod names stay DNS labels. */}}
{{- define "crvsx.fullname" -}}
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

{{- define "crvsx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crvsx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "crvsx.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "crvsx.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: crvsx
crvsx.ecrn.org/member: {{ .Values.member | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "crvsx.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "crvsx.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "crvsx.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "crvsx.keysSecret" -}}
{{- default (printf "%s-keys" (include "crvsx.fullname" .)) .Values.secrets.keys }}
{{- end }}

{{- define "crvsx.tokensSecret" -}}
{{- default (printf "%s-tokens" (include "crvsx.fullname" .)) .Values.secrets.tokens }}
{{- end }}

{{- define "crvsx.genesisConfigMap" -}}
{{- default (printf "%s-genesis" (include "crvsx.fullname" .)) .Values.registry.genesisConfigMap }}
{{- end }}

{{/* The address the local and admin APIs bind to. */}}
{{- define "crvsx.privateHost" -}}
{{- if .Values.allowRemotePlaintext }}0.0.0.0{{ else }}127.0.0.1{{ end }}
{{- end }}

{{/* node.json of node N: call with (dict "root" $ "index" N "node" $node).
Paths point at the mounts of the StatefulSet:
  /etc/crvsx/genesis   the genesis ConfigMap
  /etc/crvsx/secrets   the Secret files (0400)
  persistence.mountPath/data   the data volume */}}
{{- define "crvsx.nodeConfig" -}}
{{- $v := .root.Values }}
{{- $i := .index }}
{{- $priv := include "crvsx.privateHost" .root }}
{{- $listen := dict
  "peer" (printf "0.0.0.0:%d" (int $v.ports.peer))
  "raft" (printf "0.0.0.0:%d" (int $v.ports.raft))
  "health" (printf "0.0.0.0:%d" (int $v.ports.health))
  "local" (printf "%s:%d" $priv (int $v.ports.local))
  "admin" (printf "%s:%d" $priv (int $v.ports.admin)) }}
{{- if $v.allowRemotePlaintext }}
{{- $_ := set $listen "allowRemotePlaintext" true }}
{{- end }}
{{- with .node.raftAddress }}
{{- $_ := set $listen "raftAdvertise" . }}
{{- end }}
{{- $registry := dict
  "genesis" "/etc/crvsx/genesis/genesis.json"
  "endorsements" "/etc/crvsx/genesis/endorsements.json"
  "genesisSha256" $v.registry.genesisSha256 }}
{{- with $v.registry.join }}{{ $_ := set $registry "join" . }}{{ end }}
{{- with $v.registry.heartbeatTimeout }}{{ $_ := set $registry "heartbeatTimeout" . }}{{ end }}
{{- with $v.registry.electionTimeout }}{{ $_ := set $registry "electionTimeout" . }}{{ end }}
{{- with $v.registry.maxStaleness }}{{ $_ := set $registry "maxStaleness" . }}{{ end }}
{{- $cfg := dict
  "nodeId" .node.nodeId
  "member" $v.member
  "dataDir" (printf "%s/data" $v.persistence.mountPath)
  "listen" $listen
  "keys" (dict
    "signingKey" "/etc/crvsx/secrets/keys/signing.private.jwk"
    "tlsCert" (printf "/etc/crvsx/secrets/keys/node-%d.crt" $i)
    "tlsKey" (printf "/etc/crvsx/secrets/keys/node-%d.key" $i))
  "registry" $registry
  "local" (dict "tokensFile" "/etc/crvsx/secrets/tokens/local-tokens")
  "admin" (dict "tokensFile" "/etc/crvsx/secrets/tokens/admin-tokens")
  "logLevel" $v.logLevel }}
{{- with $v.exchange }}{{ $_ := set $cfg "exchange" . }}{{ end }}
{{- if $v.webhook.url }}
{{- $_ := set $cfg "webhook" (dict "url" $v.webhook.url "secretFile" (printf "/etc/crvsx/secrets/tokens/%s" $v.webhook.secretKey)) }}
{{- end }}
{{- toPrettyJson $cfg }}
{{- end }}
